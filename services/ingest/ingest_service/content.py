"""Pieces of a document's original file, for the content endpoint (the protocol is in
``semantik_contracts.content``).

The gateway asked the collections service first: the caller may read the collection,
and ``sources`` are its live sources. Every piece is judged again as a scan judges a file
(``SourceRoots.resolve_recorded``: the configured roots, never Semantik's own data nor a
hidden name; an upload's local copy in the uploads directory alone) and must still lie
in its source: a link swapped in since indexing that leads elsewhere is refused, and
nothing is read. The file is opened by its real path without following a last link,
then checked to be the one judged, so a swap between the check and the read is caught
too. A file changed since indexing is still served (it is the original now), marked
``stale``; a file that changes during a download ends the download (``expect``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError
from semantik_contracts import ErrorCode, RpcError, SourceKind
from semantik_contracts.content import (
    SEPARATOR,
    ContentPiece,
    ContentSource,
    FileIdentity,
    ReadDocumentContent,
)
from semantik_contracts.rpc import Reply
from semantik_contracts.subjects import INGEST, command_subject
from semantik_runtime.bus import Bus
from semantik_runtime.errors import CommandError

from .application import IngestApplication
from .sources.roots import SourceRoots
from .sources.uploaded import UploadedFiles

log = logging.getLogger(__name__)

SUBJECT = command_subject(INGEST, "ReadDocumentContent")
#: Room left in a NATS message for the reply's JSON.
_HEADROOM = 16 * 1024
#: Bytes read at a time to hash a file.
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class Indexed:
    """What the registry knows of the document: its file and what it was when indexed."""

    path: str
    file: str
    source_id: UUID | None
    sha256: str
    size: int
    mime: str

    @property
    def whole_file(self) -> bool:
        """A file's document (not one row of a record file): its hash is the file's."""
        return self.file == self.path


def indexed(app: IngestApplication, collection_id: UUID, document_id: UUID) -> Indexed | None:
    """The current document of the collection (on the writer thread), or None."""
    app.know([document_id])
    doc = app.registry.documents.get(document_id)
    if doc is None or not doc.current or doc.collection_id != collection_id:
        return None
    return Indexed(doc.path, doc.file, doc.source_id, doc.sha256, doc.size, doc.mime)


def _not_found(message: str) -> CommandError:
    return CommandError(ErrorCode.NOT_FOUND, message)


def _forbidden(message: str) -> CommandError:
    return CommandError(ErrorCode.FORBIDDEN, message)


class DocumentContent:
    """Answers ``ReadDocumentContent`` on ingest's queue group, a piece per request."""

    def __init__(
        self,
        app: IngestApplication,
        bus: Bus,
        roots: SourceRoots,
        uploads: UploadedFiles,
        *,
        call: Callable[..., Awaitable[Any]],
        concurrency: int = 8,
    ) -> None:
        self.app = app
        self.bus = bus
        self.roots = roots
        self.uploads = uploads
        self.call = call
        self.limit = asyncio.Semaphore(concurrency)
        self.subscription: Subscription | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def serve(self) -> None:
        nc = self.bus.nc
        self.subscription = await nc.subscribe(SUBJECT, queue=INGEST, cb=self._on_message)
        await nc.flush()

    async def close(self) -> None:
        if self.subscription is not None:
            with contextlib.suppress(Exception):  # the connection may be closed already
                await self.subscription.unsubscribe()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5)

    async def _on_message(self, msg: Msg) -> None:
        task = asyncio.create_task(self._answer(msg))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, msg: Msg) -> None:
        if not msg.reply:
            return
        async with self.limit:
            data = b""
            try:
                request = ReadDocumentContent.model_validate_json(msg.data)
                piece, data = await self.read(request)
                reply = Reply[ContentPiece](result=piece)
            except ValidationError:
                error = RpcError(code=ErrorCode.INVALID, message="invalid request")
                reply = Reply[ContentPiece](error=error)
            except CommandError as exc:
                reply = Reply[ContentPiece](error=exc.to_rpc())
            except Exception:
                log.exception("reading a document's content failed")
                error = RpcError(code=ErrorCode.INTERNAL, message=f"internal error in {SUBJECT}")
                reply = Reply[ContentPiece](error=error)
            await self.bus.nc.publish(
                msg.reply, reply.model_dump_json().encode() + SEPARATOR + data
            )

    async def read(self, request: ReadDocumentContent) -> tuple[ContentPiece, bytes]:
        """One piece of the document's file, or a ``CommandError`` saying why not."""
        found: Indexed | None = await self.call(
            indexed, self.app, request.collection_id, request.document_id
        )
        source = next(
            (s for s in request.sources if found is not None and s.id == found.source_id), None
        )
        if found is None or source is None:
            raise _not_found(
                f"document {request.document_id} not found in collection {request.collection_id}"
            )
        if source.kind is SourceKind.UPLOAD:
            await self._restore(found)
        length = min(request.length, self.bus.nc.max_payload - _HEADROOM)
        return await asyncio.to_thread(self._read, source, found, request, length)

    async def _restore(self, found: Indexed) -> None:
        """An upload's local copy, fetched again from the object store where it is missing."""
        name = self.uploads.name_of(found.file)
        if name is None or await asyncio.to_thread(os.path.lexists, found.file):
            return
        try:
            await self.uploads.restore(name)
        except CommandError:
            raise _not_found(f"{found.file}: the file is no longer there") from None

    def _read(
        self, source: ContentSource, found: Indexed, request: ReadDocumentContent, length: int
    ) -> tuple[ContentPiece, bytes]:
        real = self.judge(source, found.file)
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            raise _not_found(f"{found.file}: the file is no longer there") from None
        except OSError as exc:
            raise CommandError(ErrorCode.CONFLICT, _changed(found.file, exc.strerror)) from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or os.path.realpath(found.file) != real:
                raise CommandError(ErrorCode.CONFLICT, _changed(found.file, "swapped"))
            identity = FileIdentity(
                size=st.st_size, mtime_ns=st.st_mtime_ns, device=st.st_dev, inode=st.st_ino
            )
            if request.expect is not None and request.expect != identity:
                raise CommandError(
                    ErrorCode.CONFLICT,
                    f"{found.file} changed while it was being sent; download it again",
                )
            if request.offset > st.st_size:
                raise CommandError(ErrorCode.INVALID, f"offset {request.offset} is past the end")
            data = _pread(fd, min(length, st.st_size - request.offset), request.offset)
            stale = None if request.expect is not None else _stale(fd, st, found)
        finally:
            os.close(fd)
        piece = ContentPiece(
            source_id=source.id,
            name=os.path.basename(found.file),
            mime=found.mime,
            file=identity,
            offset=request.offset,
            length=len(data),
            eof=request.offset + len(data) >= st.st_size,
            stale=stale,
        )
        return piece, data

    def judge(self, source: ContentSource, file: str) -> str:
        """The real path of ``file`` if it may be read now as a file of ``source``."""
        if not os.path.lexists(file):
            raise _not_found(f"{file}: the file is no longer there")
        try:
            resolved = self.roots.resolve_recorded(source.kind, file)
        except CommandError as exc:
            if not os.path.exists(file):  # a link to nothing
                raise _not_found(f"{file}: the file is no longer there") from None
            raise _forbidden(f"{file} may not be read now: {exc.message}") from None
        if resolved.kind is not SourceKind.FILE:
            raise _not_found(f"{file} is a directory now, not the file that was indexed")
        root = Path(os.path.realpath(source.path))
        if not resolved.path.is_relative_to(root):
            raise _forbidden(
                f"{file} now leads outside its source {source.path} (a link changed since it "
                "was indexed); it is not served"
            )
        return str(resolved.path)


def _changed(file: str, why: str | None) -> str:
    return f"{file} changed while it was being opened ({why}); try again"


def _pread(fd: int, length: int, offset: int) -> bytes:
    """``length`` bytes from ``offset`` (fewer only at the end of the file)."""
    parts: list[bytes] = []
    while length > 0:
        part = os.pread(fd, length, offset)
        if not part:
            break
        parts.append(part)
        length -= len(part)
        offset += len(part)
    return b"".join(parts)


def _stale(fd: int, st: os.stat_result, found: Indexed) -> bool | None:
    """Whether the file differs from the one indexed: its size, else its SHA-256. A
    record file cannot tell (its documents hash their rows)."""
    if not found.whole_file:
        return None
    if st.st_size != found.size:
        return True
    digest = hashlib.sha256()
    offset = 0
    while block := os.pread(fd, _HASH_BLOCK, offset):
        digest.update(block)
        offset += len(block)
    return digest.hexdigest() != found.sha256
