"""One collection's documents for a query: a store query, best chunk per document.

Shared by the search service and ``semantik bench search``'s in-process baseline, so
both do exactly the same work against the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from semantik_runtime.vectors import Hit, SearchMode, SparseVector, VectorStore
from semantik_runtime.vectors.port import DenseVector

from .fusion import best_chunk_per_document

# Chunks fetched per document asked for: a document may have several matching chunks.
CHUNKS_PER_DOCUMENT = 4
MAX_FETCH = 1000
#: Candidates each prefetch (dense, sparse) hands to the fusion inside the engine.
MIN_PREFETCH = 100


def search_generation(
    store: VectorStore,
    name: str,
    mode: SearchMode,
    dense: DenseVector | None,
    sparse: SparseVector | None,
    wanted: int,
    filters: Mapping[str, Any] | None = None,
) -> list[Hit]:
    """The best ``wanted`` documents of generation ``name``, each as its best chunk
    (blocking: run it in a thread). A document's chunks are aggregated before the limit."""
    fetch = min(wanted * CHUNKS_PER_DOCUMENT, MAX_FETCH)
    while True:
        hits = store.query(
            name,
            mode=mode,
            dense=dense,
            sparse=sparse,
            limit=fetch,
            filters=filters or None,
            prefetch_limit=max(MIN_PREFETCH, fetch),
        )
        documents = best_chunk_per_document(hits, wanted)
        # Too few documents among a full page of chunks: more may lie further down.
        if len(documents) == wanted or len(hits) < fetch or fetch >= MAX_FETCH:
            return documents
        fetch = min(fetch * 4, MAX_FETCH)
