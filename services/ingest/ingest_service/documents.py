"""The documents of a collection as its owner sees them: status, and why not indexed.

Current documents are ``indexed`` once every chunk is embedded, ``pending`` until then
and ``failed`` when their embedding failed (the next scan retries them). Files that
could not be read are listed as ``failed`` with their reason until a scan indexes them.
"""

from __future__ import annotations

from uuid import UUID

from semantik_contracts import DocumentStatus
from semantik_contracts.commands import ListDocuments
from semantik_contracts.views import DocumentView, Page

from .projections import DocumentRecord, FileFailure, Registry


def document_view(doc: DocumentRecord) -> DocumentView:
    if doc.embed_error:
        status, reason = DocumentStatus.FAILED, f"embedding failed: {doc.embed_error}"
    elif doc.embedded_chunks >= doc.chunk_count:
        status, reason = DocumentStatus.INDEXED, ""
    else:
        status, reason = DocumentStatus.PENDING, ""
    return DocumentView(
        id=doc.id,
        path=doc.path,
        source_id=doc.source_id,
        status=status,
        reason=reason,
        size=doc.size,
        mime=doc.mime,
        chunk_count=doc.chunk_count,
        embedded_chunks=doc.embedded_chunks,
        operation_id=doc.operation_id,
    )


def failure_view(failure: FileFailure) -> DocumentView:
    return DocumentView(
        path=failure.path,
        source_id=failure.source_id,
        status=DocumentStatus.FAILED,
        reason=failure.reason,
        operation_id=failure.operation_id,
    )


def documents_page(registry: Registry, query: ListDocuments) -> Page[DocumentView]:
    """One page of the collection's documents and failed files, in path order."""
    sources = None if query.source_ids is None else set(query.source_ids)
    if query.document_id is not None:
        return _one_document(registry, query, sources)
    views = [
        document_view(doc)
        for doc in registry.documents.values()
        if doc.current
        and doc.collection_id == query.collection_id
        and (sources is None or doc.source_id in sources)
    ]
    views += [
        failure_view(failure)
        for (collection_id, _), failure in registry.failures.items()
        if collection_id == query.collection_id
        and (sources is None or failure.source_id in sources)
    ]
    if query.status is not None:
        views = [view for view in views if view.status is query.status]
    views.sort(key=lambda view: view.path)
    page = views[query.offset : query.offset + query.limit]
    return Page[DocumentView](items=page, total=len(views), limit=query.limit, offset=query.offset)


def _one_document(
    registry: Registry, query: ListDocuments, sources: set[UUID] | None
) -> Page[DocumentView]:
    """The page of ``query.document_id`` alone (empty unless it is current and the
    collection's, through one of ``sources``): a lookup, not a scan."""
    doc = registry.documents.get(query.document_id) if query.document_id else None
    found = (
        doc is not None
        and doc.current
        and doc.collection_id == query.collection_id
        and (sources is None or doc.source_id in sources)
    )
    items = [document_view(doc)] if found and doc is not None else []
    return Page[DocumentView](items=items, total=len(items), limit=query.limit, offset=0)
