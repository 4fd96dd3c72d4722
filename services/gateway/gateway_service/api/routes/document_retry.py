"""``POST /api/v2/collections/{id}/documents/retry``: process a collection's failed
documents again (seed 002 US2).

The failures are ingest's (``ListDocuments`` with ``status=failed``); the operation is
the collections service's (``RetryFailed``): one ``index`` of the sources that hold the
failures, queued behind a running operation. Ingest re-scans those sources
incrementally, so unchanged files and rows are skipped and the failed ones are read,
chunked and embedded again.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status
from pydantic import Field
from semantik_contracts import DocumentStatus, ErrorCode, RpcError, RpcFailure
from semantik_contracts.commands import ListDocuments, ListSources
from semantik_contracts.retry import MAX_RETRY_DOCUMENTS, RetryFailed
from semantik_contracts.views import DocumentView, OperationView, Page, SourceList

from ...schemas import RequestBody
from ..deps import BackendDep, CurrentUser
from .roles import needs_editor

router = APIRouter(prefix="/collections/{collection_id}", tags=["documents"])

#: Failures read from ingest per request, and at most in all.
PAGE = 500
MAX_FAILURES = 20 * PAGE


class RetryBody(RequestBody):
    """The failed documents to retry; all of the collection's failures when omitted."""

    document_ids: list[UUID] | None = Field(None, min_length=1, max_length=MAX_RETRY_DOCUMENTS)


def _refuse(code: ErrorCode, message: str) -> RpcFailure:
    return RpcFailure(RpcError(code=code, message=message))


async def _failures(
    backend: BackendDep, collection_id: UUID, live: list[UUID]
) -> list[DocumentView]:
    found: list[DocumentView] = []
    while len(found) < MAX_FAILURES:
        query = ListDocuments(
            collection_id=collection_id,
            source_ids=live,
            status=DocumentStatus.FAILED,
            limit=PAGE,
            offset=len(found),
        )
        page = await backend.ask_ingest(query, Page[DocumentView])
        found.extend(page.items)
        if len(page.items) < PAGE:
            break
    return found


async def _chosen(
    backend: BackendDep,
    collection_id: UUID,
    live: list[UUID],
    failed: list[DocumentView],
    wanted: list[UUID],
) -> list[DocumentView]:
    """The failures ``wanted`` names: 404 for an id that is no document of the
    collection, 409 for one that did not fail."""
    by_id = {doc.id: doc for doc in failed if doc.id is not None}
    for document_id in dict.fromkeys(wanted):
        if document_id in by_id:
            continue
        query = ListDocuments(
            collection_id=collection_id, source_ids=live, document_id=document_id, limit=1
        )
        page = await backend.ask_ingest(query, Page[DocumentView])
        if not page.items:
            raise _refuse(ErrorCode.NOT_FOUND, f"document {document_id} not found")
        state = page.items[0].status.value
        raise _refuse(ErrorCode.CONFLICT, f"document {document_id} did not fail (it is {state})")
    return [by_id[document_id] for document_id in dict.fromkeys(wanted)]


@router.post("/documents/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_failed(
    collection_id: UUID,
    user: CurrentUser,
    backend: BackendDep,
    body: RetryBody | None = None,
) -> OperationView:
    """Process failed documents again: 202 with the ``index`` operation (queued while
    another runs). ``document_ids`` (1 to 500) picks failed documents by id; without it,
    every failure of the collection is retried, files that never became a document
    included. 404: an id that is no document of the collection; 409: an id that did not
    fail, or no failure at all."""
    await needs_editor(backend, user, collection_id)
    listed = await backend.ask(ListSources(**user.acting, collection_id=collection_id), SourceList)
    live = [source.id for source in listed.items]
    failed = await _failures(backend, collection_id, live) if live else []
    wanted = body.document_ids if body is not None else None
    chosen = (
        failed if wanted is None else await _chosen(backend, collection_id, live, failed, wanted)
    )
    source_ids = list(dict.fromkeys(doc.source_id for doc in chosen if doc.source_id is not None))
    if not source_ids:
        raise _refuse(ErrorCode.CONFLICT, "no document of this collection failed")
    command = RetryFailed(
        **user.acting,
        collection_id=collection_id,
        source_ids=source_ids,
        document_ids=[doc.id for doc in chosen if doc.id is not None],
    )
    return await backend.ask(command, OperationView)
