"""Uploaded files: the gateway keeps them in the bus's object store, ingest reads them
from a local copy under its data dir, fetched again whenever it is missing (a new
machine, a lost volume): the object store, not a shared disk, is where they live."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from pathlib import Path

from nats.js.errors import NotFoundError
from semantik_contracts import ErrorCode
from semantik_contracts.subjects import UPLOAD_SCHEME
from semantik_runtime.bus import Bus
from semantik_runtime.errors import CommandError

#: ``<collection id>/<file name>``: the only shape of an upload's name.
_NAME = re.compile(r"^[0-9a-f-]{36}/[^/\x00]+$")


class UploadedFiles:
    def __init__(self, bus: Bus, directory: Path) -> None:
        self.bus = bus
        self.directory = directory

    def local_path(self, name: str) -> Path:
        return self.directory / name

    def name_of(self, path: str) -> str | None:
        """The object name of a local copy's path; None for paths that are not uploads."""
        try:
            name = Path(path).relative_to(self.directory).as_posix()
        except ValueError:
            return None
        return name if _NAME.match(name) else None

    async def fetch(self, source_path: str) -> Path:
        """The local copy of ``upload://<collection>/<file>``, fetched now."""
        name = source_path.removeprefix(UPLOAD_SCHEME)
        if not _NAME.match(name) or ".." in name.split("/"):
            raise CommandError(ErrorCode.INVALID, f"{source_path} is not an upload's name")
        return await self.restore(name)

    async def restore(self, name: str) -> Path:
        target = self.local_path(name)
        store = await self.bus.upload_store()
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=".fetching-")
        try:
            with os.fdopen(handle, "wb") as out:
                await store.get(name, writeinto=out)
            os.replace(partial, target)  # whole or not at all
        except NotFoundError:
            raise CommandError(ErrorCode.INVALID, f"no uploaded file {name}") from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)  # left only when the fetch failed
        return target
