"""``/api/v2/collections/{id}/documents``: the collection's documents with their status,
and the ``POST`` alias of seed 003 that adds several paths as sources.

Adding a source starts an ``index`` (first) or ``append`` operation, and a collection
runs one operation at a time: the others wait in its queue (SPEC §12). So ``POST
/documents`` with several paths adds them in order, one operation each: the first runs,
the rest are ``queued`` with their ``queue_position``. A path refused for its own
reason (it does not exist, it is already a source, the queue is full) is listed in
``not_added`` with that reason. If no path could be added the request fails with the
first path's error.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status
from semantik_contracts import DocumentStatus, ErrorCode, RpcError, RpcFailure
from semantik_contracts.commands import AddSource, ListDocuments, ListSources
from semantik_contracts.views import DocumentView, Page, SourceAndOperation, SourceList

from ...errors import status_of
from ...schemas import DocumentsAdded, DocumentsCreate, PathRefused
from ..deps import BackendDep, CurrentUser

router = APIRouter(prefix="/collections/{collection_id}", tags=["documents"])

#: Errors about the collection or the system, not about one path: stop at once.
_FATAL = {ErrorCode.FORBIDDEN, ErrorCode.UNAUTHORIZED, ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT}


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
        ListSources(**user.acting, collection_id=collection_id), SourceList
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
        command = AddSource(**user.acting, collection_id=collection_id, path=path, roots=user.roots)
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
