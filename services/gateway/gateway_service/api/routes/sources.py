"""``/api/v2/collections/{id}/sources`` and the ``/documents`` alias of seed 003.

Adding a source starts an ``index`` (first) or ``append`` operation, and a collection
runs one operation at a time. So ``/documents`` with several paths adds them in order,
and every path that cannot be added now is listed in ``not_added`` with its reason
(typically 409: the operation started by the first path is still running; add the
rest when it has finished). If no path could be added the request fails with the
first path's error.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status
from semantik_contracts import ErrorCode, RpcError, RpcFailure
from semantik_contracts.commands import AddSource, ListSources
from semantik_contracts.views import SourceAndOperation, SourceList

from ...errors import status_of
from ...schemas import DocumentsAdded, DocumentsCreate, PathRefused, SourceCreate
from ..deps import BackendDep, CurrentUser

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


@router.get("/sources")
async def list_sources(collection_id: UUID, user: CurrentUser, backend: BackendDep) -> SourceList:
    return await backend.ask(
        ListSources(actor=user.user_id, collection_id=collection_id), SourceList
    )


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
