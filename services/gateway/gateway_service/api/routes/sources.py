"""``/api/v2/collections/{id}/sources`` and the ``/documents`` alias of seed 003.

Adding a source starts an ``index`` (first) or ``append`` operation, and a collection
runs one operation at a time. So ``/documents`` with several paths adds them in order,
and every path that cannot be added now is listed in ``not_added`` with its reason
(typically 409: the operation started by the first path is still running; add the
rest when it has finished). If no path could be added the request fails with the
first path's error.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from semantik_contracts import DocumentStatus, ErrorCode, RpcError, RpcFailure, SourceKind
from semantik_contracts.commands import (
    AddSource,
    ChangeSourceColumns,
    GetCollection,
    ListDocuments,
    ListSources,
    RemoveSource,
    ValidatedSource,
    ValidateSource,
)
from semantik_contracts.views import (
    CollectionView,
    DocumentView,
    Page,
    SourceAndOperation,
    SourceList,
)

from ...errors import status_of
from ...schemas import (
    DocumentsAdded,
    DocumentsCreate,
    PathRefused,
    SourceColumnsUpdate,
    SourceCreate,
)
from ...uploads import receive_upload, store_upload
from ..deps import BackendDep, CurrentUser, SettingsDep

router = APIRouter(prefix="/collections/{collection_id}", tags=["sources"])

#: Errors about the collection or the system, not about one path: stop at once.
_FATAL = {ErrorCode.FORBIDDEN, ErrorCode.UNAUTHORIZED, ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT}


@router.post("/sources", status_code=status.HTTP_202_ACCEPTED)
async def add_source(
    collection_id: UUID, body: SourceCreate, user: CurrentUser, backend: BackendDep
) -> SourceAndOperation:
    """Add a directory or file on the server; 202 with the operation that indexes it."""
    command = AddSource(actor=user.user_id, collection_id=collection_id, **body.model_dump())
    return await backend.ask(command, SourceAndOperation)


@router.post(
    "/sources/upload",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "text_columns": {"type": "array", "items": {"type": "string"}},
                            "context_columns": {"type": "array", "items": {"type": "string"}},
                            "id_column": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def upload_source(
    collection_id: UUID,
    request: Request,
    user: CurrentUser,
    backend: BackendDep,
    settings: SettingsDep,
) -> SourceAndOperation:
    """Upload a file (multipart field ``file``, at most ``SEMANTIK_UPLOAD_MAX_BYTES``) as a
    source, with the same column fields as a path source (repeat a field for a list).

    A file uploaded again under the same name is kept as ``name_v2.ext`` and so on."""
    # Ownership first: nothing is stored for a collection that is not the user's.
    await backend.ask(
        GetCollection(actor=user.user_id, collection_id=collection_id), CollectionView
    )
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        message = "send the file as multipart/form-data (field 'file')"
        raise RpcFailure(RpcError(code=ErrorCode.INVALID, message=message))
    upload = await receive_upload(
        content_type, request.stream(), settings.upload_max_bytes, settings.data_dir / "spool"
    )
    try:
        fields = SourceColumnsUpdate.model_validate(
            {
                "text_columns": _listed(upload.fields.get("text_columns", [])),
                "context_columns": _listed(upload.fields.get("context_columns", [])),
                "id_column": next(iter(upload.fields.get("id_column", [])), None) or None,
            }
        )
        path = await store_upload(await backend.bus.upload_store(), collection_id, upload)
    finally:
        upload.discard()
    command = AddSource(
        actor=user.user_id,
        collection_id=collection_id,
        path=path,
        kind=SourceKind.UPLOAD,
        **fields.model_dump(),
    )
    return await backend.ask(command, SourceAndOperation)


def _listed(values: list[str]) -> list[str]:
    """Form fields as a list: repeated fields, or one comma-separated field."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@router.delete("/sources/{source_id}", status_code=status.HTTP_202_ACCEPTED)
async def remove_source(
    collection_id: UUID, source_id: UUID, user: CurrentUser, backend: BackendDep
) -> SourceAndOperation:
    """Remove a source; its ``remove_source`` operation deletes exactly its documents.

    Refused with 409 while the collection runs an operation (the source may be being
    embedded): wait for it to finish, or cancel it.
    """
    command = RemoveSource(actor=user.user_id, collection_id=collection_id, source_id=source_id)
    return await backend.ask(command, SourceAndOperation)


@router.patch("/sources/{source_id}", status_code=status.HTTP_202_ACCEPTED)
async def change_source_columns(
    collection_id: UUID,
    source_id: UUID,
    body: SourceColumnsUpdate,
    user: CurrentUser,
    backend: BackendDep,
) -> SourceAndOperation:
    """New column preferences for a record source: its rows are embedded again, and the
    previous vectors stay searchable until each row's new ones are written."""
    listed = await backend.ask(
        ListSources(actor=user.user_id, collection_id=collection_id), SourceList
    )
    source = next((s for s in listed.items if s.id == source_id), None)
    if source is None:
        raise RpcFailure(
            RpcError(code=ErrorCode.NOT_FOUND, message=f"source {source_id} not found")
        )
    if source.kind is not SourceKind.DIRECTORY:  # a record file: its columns are checked now
        check = ValidateSource(path=source.path, **body.model_dump())
        await backend.ask_ingest(check, ValidatedSource)
    command = ChangeSourceColumns(
        actor=user.user_id, collection_id=collection_id, source_id=source_id, **body.model_dump()
    )
    return await backend.ask(command, SourceAndOperation)


@router.get("/sources")
async def list_sources(collection_id: UUID, user: CurrentUser, backend: BackendDep) -> SourceList:
    return await backend.ask(
        ListSources(actor=user.user_id, collection_id=collection_id), SourceList
    )


@router.get("/documents")
async def list_documents(
    collection_id: UUID,
    user: CurrentUser,
    backend: BackendDep,
    document_status: Annotated[DocumentStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[DocumentView]:
    """The collection's documents with their status (``pending``, ``indexed``, ``failed``)
    and, for failures, the reason: files that could not be read are listed too."""
    listed = await backend.ask(
        ListSources(actor=user.user_id, collection_id=collection_id), SourceList
    )  # ownership: 404 or 403 here
    query = ListDocuments(
        collection_id=collection_id,
        source_ids=[source.id for source in listed.items],
        status=document_status,
        limit=limit,
        offset=offset,
    )
    return await backend.ask_ingest(query, Page[DocumentView])


@router.post("/documents", status_code=status.HTTP_202_ACCEPTED)
async def add_documents(
    collection_id: UUID, body: DocumentsCreate, user: CurrentUser, backend: BackendDep
) -> DocumentsAdded:
    """Add each path as a source; see the module's notes for several paths."""
    added: list[SourceAndOperation] = []
    refused: list[tuple[str, RpcError]] = []
    for path in dict.fromkeys(body.paths):
        command = AddSource(actor=user.user_id, collection_id=collection_id, path=path)
        try:
            added.append(await backend.ask(command, SourceAndOperation))
        except RpcFailure as exc:
            if exc.error.code in _FATAL:
                raise
            refused.append((path, exc.error))
    if not added:
        path, first = refused[0]
        message = first.message if len(refused) == 1 else f"{path}: {first.message}"
        raise RpcFailure(first.model_copy(update={"message": message}))
    return DocumentsAdded(
        added=added,
        not_added=[
            PathRefused(path=path, status_code=status_of(error), detail=error.message)
            for path, error in refused
        ],
    )
