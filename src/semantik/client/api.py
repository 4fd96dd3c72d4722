"""``SemantikClient``: typed methods over Semantik's REST API and its live events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

from semantik_contracts.documents import DocumentDetail
from semantik_contracts.uploads import UploadedFile, UploadedFiles
from semantik_contracts.views import SourceList

from .accounts import Accounts
from .connection import Id, given, upload_batches, upload_form, uploads_form
from .download import download_file
from .errors import api_error, error_of_frame
from .models import (
    TERMINAL,
    Collection,
    CollectionStatus,
    Document,
    DocumentStatus,
    EventFrame,
    Operation,
    OperationStatus,
    OperationType,
    Page,
    Source,
    SourceAndOperation,
    SourceSync,
    SourceUpdated,
)
from .searching import Searching

COLLECTIONS = "/api/v2/collections"


class SemantikClient(Searching, Accounts):
    """A client of one Semantik gateway. Use it as an async context manager, sign in
    (``login``, ``login_local``, or an ``api_key``), then call its methods; a refused
    request raises ``ApiError``. ``call`` reaches any route the methods do not name."""

    # -- collections ------------------------------------------------------------------------
    async def list_collections(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        status: CollectionStatus | str | None = None,
        name: str | None = None,
    ) -> Page[Collection]:
        """One page of the collections you own or that are shared with you, oldest first;
        ``name`` keeps those whose name contains it."""
        query = given(limit=limit, offset=offset, status=status, name=name)
        return Page[Collection].model_validate(await self.call("GET", COLLECTIONS, params=query))

    async def iter_collections(
        self, *, page_size: int = 100, status: CollectionStatus | str | None = None
    ) -> AsyncIterator[Collection]:
        """Every collection you can read, a page at a time."""
        offset = 0
        while True:
            page = await self.list_collections(limit=page_size, offset=offset, status=status)
            for collection in page.items:
                yield collection
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    async def get_collection(self, collection_id: Id) -> Collection:
        return Collection.model_validate(await self.call("GET", f"{COLLECTIONS}/{collection_id}"))

    async def collection_by_name(self, name: str) -> Collection | None:
        """The readable collection named exactly ``name``, or None."""
        offset = 0
        while True:
            page = await self.list_collections(limit=100, offset=offset, name=name)
            for item in page.items:
                if item.name == name:
                    return item
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return None

    async def create_collection(
        self,
        name: str,
        *,
        description: str = "",
        model_name: str | None = None,
        chunk_size: int | None = None,
        chunk_overlap: int | None = None,
    ) -> Collection:
        """A new, empty collection that you own (the default model unless named)."""
        body = given(
            name=name,
            description=description,
            model_name=model_name,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
        )
        return Collection.model_validate(await self.call("POST", COLLECTIONS, json=body))

    async def update_collection(
        self, collection_id: Id, *, name: str | None = None, description: str | None = None
    ) -> Collection:
        """Rename or describe (owner); what is not given stays."""
        body = given(name=name, description=description)
        path = f"{COLLECTIONS}/{collection_id}"
        return Collection.model_validate(await self.call("PATCH", path, json=body))

    async def delete_collection(self, collection_id: Id) -> None:
        """Delete it (owner); an operation running on it is cancelled."""
        await self.call("DELETE", f"{COLLECTIONS}/{collection_id}")

    # -- sources ------------------------------------------------------------------------------
    async def add_source(
        self,
        collection_id: Id,
        path: str | Path,
        *,
        text_columns: Sequence[str] = (),
        context_columns: Sequence[str] = (),
        id_column: str | None = None,
        sync: SourceSync | None = None,
    ) -> SourceAndOperation:
        """Add a directory or file on the server; answers the source and the operation
        that indexes it (``wait`` for it). The column fields apply to record files;
        ``sync`` watches it or re-scans it on a schedule."""
        body = given(
            path=str(path),
            text_columns=list(text_columns),
            context_columns=list(context_columns),
            id_column=id_column,
            sync=sync.model_dump() if sync is not None else None,
        )
        added = await self.call("POST", f"{COLLECTIONS}/{collection_id}/sources", json=body)
        return SourceAndOperation.model_validate(added)

    async def upload(
        self,
        collection_id: Id,
        file: str | Path | bytes,
        *,
        filename: str | None = None,
        text_columns: Sequence[str] = (),
        context_columns: Sequence[str] = (),
        id_column: str | None = None,
        keep_versions: bool = False,
    ) -> SourceAndOperation:
        """Upload a file (a path here, or its bytes with ``filename``) as a source. A name
        the collection has already is that source's next version, unless
        ``keep_versions``: then a source of its own (``name_v2.ext``)."""
        path = f"{COLLECTIONS}/{collection_id}/sources/upload"
        form = upload_form(file, filename, text_columns, context_columns, id_column, keep_versions)
        with form as parts:
            return SourceAndOperation.model_validate(await self.call("POST", path, **parts))

    async def upload_many(
        self,
        collection_id: Id,
        files: Iterable[str | Path],
        *,
        text_columns: Sequence[str] = (),
        context_columns: Sequence[str] = (),
        id_column: str | None = None,
        keep_versions: bool = False,
    ) -> list[UploadedFile]:
        """Upload files (at most 50 files, 50 MiB, a request): each its own source (or next
        version) and queued operation. Each file's answer, in order: its source and
        operation, or the ``error`` it alone was refused with."""
        path = f"{COLLECTIONS}/{collection_id}/sources/uploads"
        answers: list[UploadedFile] = []
        for batch in upload_batches([Path(f) for f in files]):
            with uploads_form(
                batch, text_columns, context_columns, id_column, keep_versions
            ) as parts:
                sent = UploadedFiles.model_validate(await self.call("POST", path, **parts))
            answers.extend(sent.files)
        return answers

    async def upload_files(
        self,
        collection_id: Id,
        files: Iterable[str | Path],
        *,
        keep_versions: bool = False,
        timeout: float | None = None,
    ) -> list[Operation]:
        """Upload the files (``upload_many``) and wait for their operations, which the
        collection runs one after another; the operations as they ended. A refused file
        raises its ``ApiError`` before any wait (the others stay added)."""
        answers = await self.upload_many(collection_id, files, keep_versions=keep_versions)
        if refused := next((a for a in answers if a.error is not None), None):
            assert refused.error is not None
            error = refused.error
            raise api_error(error.status, f"{refused.filename}: {error.detail}", error.code)
        return [await self.wait(a.operation.id, timeout=timeout) for a in answers if a.operation]

    async def list_sources(self, collection_id: Id) -> list[Source]:
        listed = await self.call("GET", f"{COLLECTIONS}/{collection_id}/sources")
        return SourceList.model_validate(listed).items

    async def update_source(
        self,
        collection_id: Id,
        source_id: Id,
        *,
        text_columns: Sequence[str] | None = None,
        context_columns: Sequence[str] = (),
        id_column: str | None = None,
        sync: SourceSync | None = None,
    ) -> SourceUpdated:
        """New columns for a record source (its rows are embedded again, staged), new
        ``sync`` settings, or both; the operation is None when only ``sync`` changed."""
        columns = None if text_columns is None else list(text_columns)
        body = given(text_columns=columns, sync=sync.model_dump() if sync else None)
        if columns is not None:
            body |= {"context_columns": list(context_columns), "id_column": id_column}
        path = f"{COLLECTIONS}/{collection_id}/sources/{source_id}"
        return SourceUpdated.model_validate(await self.call("PATCH", path, json=body))

    async def rescan_source(self, collection_id: Id, source_id: Id) -> SourceAndOperation:
        """Re-scan one source now: an index of it alone (queued behind a running one)."""
        path = f"{COLLECTIONS}/{collection_id}/sources/{source_id}/index"
        return SourceAndOperation.model_validate(await self.call("POST", path))

    async def remove_source(self, collection_id: Id, source_id: Id) -> SourceAndOperation:
        """Remove a source and its documents (a ``remove_source`` operation)."""
        path = f"{COLLECTIONS}/{collection_id}/sources/{source_id}"
        return SourceAndOperation.model_validate(await self.call("DELETE", path))

    # -- operations -----------------------------------------------------------------------------
    async def index(self, collection_id: Id) -> Operation:
        """Scan every source again: unchanged documents skipped, changed ones replaced."""
        path = f"{COLLECTIONS}/{collection_id}/operations/index"
        return Operation.model_validate(await self.call("POST", path))

    async def reindex(
        self,
        collection_id: Id,
        *,
        model_name: str | None = None,
        chunk_size: int | None = None,
        chunk_overlap: int | None = None,
    ) -> Operation:
        """A blue-green reindex with new settings; search keeps answering meanwhile."""
        body = given(model_name=model_name, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        path = f"{COLLECTIONS}/{collection_id}/operations/reindex"
        return Operation.model_validate(await self.call("POST", path, json=body))

    async def get_operation(self, operation_id: Id) -> Operation:
        return Operation.model_validate(
            await self.call("GET", f"/api/v2/operations/{operation_id}")
        )

    async def list_operations(
        self,
        collection_id: Id | None = None,
        *,
        status: OperationStatus | str | None = None,
        type: OperationType | str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[Operation]:
        """Operations, newest first: of one collection, or of every one you can read."""
        path = "/api/v2/operations"
        if collection_id is not None:
            path = f"{COLLECTIONS}/{collection_id}/operations"
        query = given(status=status, type=type, limit=limit, offset=offset)
        return Page[Operation].model_validate(await self.call("GET", path, params=query))

    async def cancel(self, operation_id: Id) -> Operation:
        """Stop the operation at the next file; what it registered is still embedded."""
        path = f"/api/v2/operations/{operation_id}/cancel"
        return Operation.model_validate(await self.call("POST", path))

    async def wait(
        self,
        operation_id: Id,
        *,
        timeout: float | None = None,
        on_event: Callable[[EventFrame], None] | None = None,
    ) -> Operation:
        """Follow the operation's events until it ends; its final state. ``on_event``
        sees each event (progress, say). ``TimeoutError`` after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            operation = await self.get_operation(operation_id)
            last_seq, ended = None, operation.status in TERMINAL
            while not ended:
                # Without last_seq the subscription starts with the operation's current
                # state, so an ending that came before the subscription counts.
                frames = self.events(operation_id=operation_id, last_seq=last_seq)
                async with contextlib.aclosing(frames):
                    async for frame in frames:
                        last_seq = frame.seq
                        if on_event is not None:
                            on_event(frame)
                        if frame.ends_operation:
                            ended = True
                            break
                if not ended:  # closed by the server before the end: follow it again
                    await asyncio.sleep(0.5)
            while operation.status not in TERMINAL:  # the read model follows the event
                operation = await self.get_operation(operation_id)
                if operation.status not in TERMINAL:
                    await asyncio.sleep(0.1)
            return operation

    # -- documents ------------------------------------------------------------------------------
    async def list_documents(
        self,
        collection_id: Id,
        *,
        status: DocumentStatus | str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[Document]:
        """The collection's documents with their status; failed ones with the reason."""
        query = given(status=status, limit=limit, offset=offset)
        path = f"{COLLECTIONS}/{collection_id}/documents"
        return Page[Document].model_validate(await self.call("GET", path, params=query))

    async def get_document(self, collection_id: Id, document_id: Id) -> DocumentDetail:
        """One document: its metadata, its extracted text and where each chunk lies."""
        path = f"{COLLECTIONS}/{collection_id}/documents/{document_id}"
        return DocumentDetail.model_validate(await self.call("GET", path))

    async def download(self, collection_id: Id, document_id: Id, to: str | Path) -> Path:
        """Stream the document's original file into ``to`` (a file, or a folder to put it
        in under its own name); the path written. It is written beside ``to`` first and
        moved into place once whole, so a broken download leaves nothing behind."""
        path = f"{COLLECTIONS}/{collection_id}/documents/{document_id}/content"
        return await download_file(self, path, Path(to), default_name=str(document_id))

    # -- live events ----------------------------------------------------------------------------
    @overload
    def events(self, subscribe: Mapping[str, Any], /) -> AsyncGenerator[dict[str, Any], None]: ...

    @overload
    def events(
        self,
        *,
        collection_id: Id | None = None,
        operation_id: Id | None = None,
        last_seq: int | None = None,
    ) -> AsyncGenerator[EventFrame, None]: ...

    def events(
        self,
        subscribe: Mapping[str, Any] | None = None,
        *,
        collection_id: Id | None = None,
        operation_id: Id | None = None,
        last_seq: int | None = None,
    ) -> AsyncGenerator[dict[str, Any], None] | AsyncGenerator[EventFrame, None]:
        """The events of one collection (its operations and sources included) or of one
        operation, in stream order: after ``last_seq`` if given (0: the whole history the
        stream retains), else after a first ``snapshot`` frame of the current state
        (``EventFrame.is_snapshot``), then live. A dropped socket or an expired token is
        resumed after the last event seen. A refused subscription raises ``ApiError``.

        Given a subscribe message (a dict) instead, yields the server's raw messages,
        control frames included."""
        if subscribe is not None:
            return self.follow(subscribe)
        if (collection_id is None) == (operation_id is None):
            raise ValueError("name exactly one of collection_id and operation_id")
        target = {"type": "subscribe_collection", "collection_id": str(collection_id)}
        if operation_id is not None:
            target = {"type": "subscribe_operation", "operation_id": str(operation_id)}
        return self._frames({**target, **given(last_seq=last_seq)})

    async def _frames(self, subscribe: dict[str, Any]) -> AsyncGenerator[EventFrame, None]:
        async with contextlib.aclosing(self.follow(subscribe)) as messages:
            async for message in messages:
                if message.get("type") == "error":
                    raise error_of_frame(dict(message.get("data") or {}))
                if isinstance(message.get("seq"), int):
                    yield EventFrame.model_validate(message)
