"""An uploaded file's next version: stored under the name the collection already has.

``upload://<collection>/<name>`` always holds the newest version; the collections
service makes it the next version of the source whose file it is (``AddSource`` with
``as_version``), or a new source where none is. One upload of a name at a time, on any
gateway: a lock in ``SEMANTIK_UPLOAD_NAMES`` (created by one caller only) is held from
storing the file until the source has its version, so two uploads of one name at once
become two versions, in the order they took the lock. A refused version puts the
previous file back: a refusal changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, ObjectNotFoundError
from semantik_contracts import ErrorCode, RpcError, RpcFailure
from semantik_contracts.subjects import UPLOAD_SCHEME
from semantik_runtime.bus import Bus

from .uploads import ReceivedUpload, discard_stored_upload, name_key

#: How long an upload waits for another upload of the same name to finish.
LOCK_WAIT_SECONDS = 30.0
#: A lock older than this was left by a gateway that died holding it: taken over.
LOCK_STALE_SECONDS = 300.0


@contextlib.asynccontextmanager
async def name_locked(
    bus: Bus, collection_id: UUID, name: str, wait: float = LOCK_WAIT_SECONDS
) -> AsyncIterator[None]:
    """Hold the lock of one upload name of a collection; a 409 after ``wait`` seconds."""
    names = await bus.upload_names()
    key = f"{name_key(collection_id, name)}.lock"
    deadline = time.monotonic() + wait
    while True:
        stamp = f"{time.time()}".encode()
        try:
            revision = await names.create(key, stamp)
            break
        except KeyWrongLastSequenceError:
            pass
        with contextlib.suppress(KeyNotFoundError, KeyWrongLastSequenceError, ValueError):
            held = await names.get(key)
            if time.time() - float((held.value or b"0").decode()) > LOCK_STALE_SECONDS:
                revision = await names.update(key, stamp, last=held.revision)
                break
        if time.monotonic() > deadline:
            message = f"{name} is being uploaded to this collection now; try again shortly"
            raise RpcFailure(RpcError(code=ErrorCode.CONFLICT, message=message))
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        with contextlib.suppress(KeyWrongLastSequenceError, KeyNotFoundError):
            await names.delete(key, last=revision)  # not a lock taken over meanwhile


class StoredVersion:
    """The newest version stored under its name, and the previous file kept aside until
    the version is accepted (``settle``) or refused (``undo``)."""

    def __init__(self, bus: Bus, collection_id: UUID, upload: ReceivedUpload) -> None:
        self.bus = bus
        self.object = f"{collection_id}/{upload.filename}"
        self.path = f"{UPLOAD_SCHEME}{self.object}"
        self.upload = upload
        self.previous: Path | None = None

    async def store(self, spool: Path) -> None:
        store, names = await self.bus.upload_store(), await self.bus.upload_names()
        collection_id, name = self.object.split("/", 1)
        with contextlib.suppress(KeyWrongLastSequenceError):  # reserved already
            await names.create(name_key(UUID(collection_id), name), name.encode())
        handle, kept = tempfile.mkstemp(dir=spool, prefix="previous-")
        try:
            with os.fdopen(handle, "wb") as out:
                await store.get(self.object, writeinto=out)
            self.previous = Path(kept)
        except ObjectNotFoundError:
            await asyncio.to_thread(os.unlink, kept)  # the name's first upload
        with self.upload.path.open("rb") as data:
            await store.put(self.object, data)

    async def undo(self) -> None:
        """The version was refused: the previous file back, or the name freed."""
        if self.previous is None:
            await discard_stored_upload(self.bus, self.path)
            return
        store = await self.bus.upload_store()
        with self.previous.open("rb") as data:
            await store.put(self.object, data)

    def settle(self) -> None:
        if self.previous is not None:
            self.previous.unlink(missing_ok=True)
