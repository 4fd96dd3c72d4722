"""``/api/v2/collections/{id}/sources``: add (a path on the server), list, change the
columns of, re-scan and remove a collection's sources. Uploads are in ``uploads.py``, the
``/documents`` routes in ``documents.py``.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status
from semantik_contracts import ErrorCode, RpcError, RpcFailure, SourceKind
from semantik_contracts.commands import (
    AddSource,
    ChangeSourceColumns,
    ChangeSourceSync,
    ListSources,
    RemoveSource,
    RescanSource,
    ValidatedSource,
    ValidateSource,
)
from semantik_contracts.subjects import UPLOAD_SCHEME
from semantik_contracts.views import SourceAndOperation, SourceList, SourceView

from ...schemas import SourceCreate, SourcePreview, SourceUpdate, SourceUpdated
from ..deps import BackendDep, CurrentUser

router = APIRouter(prefix="/collections/{collection_id}", tags=["sources"])


@router.post("/sources", status_code=status.HTTP_202_ACCEPTED)
async def add_source(
    collection_id: UUID, body: SourceCreate, user: CurrentUser, backend: BackendDep
) -> SourceAndOperation:
    """Add a directory or file on the server; 202 with the operation that indexes it."""
    command = AddSource(
        **user.acting, collection_id=collection_id, roots=user.roots, **body.model_dump()
    )
    return await backend.ask(command, SourceAndOperation)


@router.post("/sources/preview")
async def preview_source(
    collection_id: UUID, body: SourcePreview, user: CurrentUser, backend: BackendDep
) -> ValidatedSource:
    """What adding ``path`` would find, without adding it: the resolved path, its kind and,
    for a record file (csv, tsv, jsonl, json, parquet, xlsx, xls), its usable columns to
    choose ``text_columns``, ``context_columns`` and ``id_column`` from. Refused as adding
    it would be (outside the source roots, missing, an unsupported type)."""
    if body.path.startswith(UPLOAD_SCHEME):  # an upload's columns are read by the client
        raise RpcFailure(RpcError(code=ErrorCode.INVALID, message="preview a path on the server"))
    await backend.ask(
        ListSources(**user.acting, collection_id=collection_id), SourceList
    )  # ownership: 404 or 403 here
    return await backend.ask_ingest(
        ValidateSource(path=body.path, roots=user.roots), ValidatedSource
    )


@router.delete("/sources/{source_id}", status_code=status.HTTP_202_ACCEPTED)
async def remove_source(
    collection_id: UUID, source_id: UUID, user: CurrentUser, backend: BackendDep
) -> SourceAndOperation:
    """Remove a source; its ``remove_source`` operation deletes exactly its documents.

    While the collection runs another operation (the source may be being embedded), the
    removal waits in the collection's queue and runs after it (``status: "queued"``).
    """
    command = RemoveSource(**user.acting, collection_id=collection_id, source_id=source_id)
    return await backend.ask(command, SourceAndOperation)


@router.post("/sources/{source_id}/index", status_code=status.HTTP_202_ACCEPTED)
async def rescan_source(
    collection_id: UUID, source_id: UUID, user: CurrentUser, backend: BackendDep
) -> SourceAndOperation:
    """Re-scan one source now: 202 with an incremental ``index`` of that source alone
    (trigger ``user``; unchanged documents are skipped), queued behind a running
    operation. A source with an index queued already gets that one back."""
    command = RescanSource(**user.acting, collection_id=collection_id, source_id=source_id)
    return await backend.ask(command, SourceAndOperation)


@router.patch("/sources/{source_id}", status_code=status.HTTP_202_ACCEPTED)
async def change_source(
    collection_id: UUID,
    source_id: UUID,
    body: SourceUpdate,
    user: CurrentUser,
    backend: BackendDep,
    response: Response,
) -> SourceUpdated:
    """New sync settings (``sync``), new column preferences for a record source
    (``text_columns``…), or both. New columns embed its rows again, staged (202 with the
    operation, a reindex of the collection: search serves the old rows until every new
    one is written, then switches at once); sync alone changes no document (200,
    ``operation`` null)."""
    listed = await backend.ask(ListSources(**user.acting, collection_id=collection_id), SourceList)
    source = next((s for s in listed.items if s.id == source_id), None)
    if source is None:
        raise RpcFailure(
            RpcError(code=ErrorCode.NOT_FOUND, message=f"source {source_id} not found")
        )
    columns = body.columns
    if columns is not None and source.kind is not SourceKind.DIRECTORY:
        check = ValidateSource(path=source.path, **columns.model_dump())  # checked now
        await backend.ask_ingest(check, ValidatedSource)
    changed = SourceUpdated(source=source)
    if body.sync is not None:
        command = ChangeSourceSync(
            **user.acting, collection_id=collection_id, source_id=source_id, sync=body.sync
        )
        changed = SourceUpdated(source=await backend.ask(command, SourceView))
    if columns is None:
        response.status_code = status.HTTP_200_OK
        return changed
    recolumn = ChangeSourceColumns(
        **user.acting, collection_id=collection_id, source_id=source_id, **columns.model_dump()
    )
    done = await backend.ask(recolumn, SourceAndOperation)
    return SourceUpdated(source=done.source, operation=done.operation)


@router.get("/sources")
async def list_sources(collection_id: UUID, user: CurrentUser, backend: BackendDep) -> SourceList:
    return await backend.ask(ListSources(**user.acting, collection_id=collection_id), SourceList)
