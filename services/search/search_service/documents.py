"""One page of a document's chunks, read from the store for the document endpoint."""

from __future__ import annotations

from semantik_contracts.documents import DocumentChunks, ReadDocumentChunks, StoredChunk
from semantik_contracts.work import generation_name
from semantik_runtime.vectors import VectorStore

#: Payload keys that are the chunk's own, not the document's.
_CHUNK_KEYS = frozenset({"text", "chunk_index"})


def read_document_chunks(store: VectorStore, request: ReadDocumentChunks) -> DocumentChunks:
    """The page ``request`` asks for (blocking: run it on the store's lane)."""
    name = generation_name(request.collection_id, request.generation)
    after = None if request.after is None else str(request.after)
    hits, following = store.document_chunks(
        name, str(request.document_id), limit=request.limit, after=after
    )
    chunks = [
        StoredChunk(index=int(hit.payload.get("chunk_index", 0)), text=str(hit.payload["text"]))
        for hit in hits
        if isinstance(hit.payload.get("text"), str)
    ]
    payload = {k: v for k, v in hits[0].payload.items() if k not in _CHUNK_KEYS} if hits else {}
    return DocumentChunks(chunks=chunks, payload=payload, next=following)
