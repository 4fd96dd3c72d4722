"""One collection's documents for a query: a store query, best chunk per document;
then the whole payloads of the chunks that made the cut.

The query returns each chunk's ``document_id`` only (what aggregation needs): the
payloads, chunk texts included, are read afterwards for the few results returned
(up to 5 x 40 chunks' payloads were converted per search otherwise; a hybrid query over
5 collections took 4.8 ms with them, 1.9 ms without, on a loaded machine).

Shared by the search service and ``semantik bench search``'s in-process baseline, so
both do exactly the same work against the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple
from uuid import UUID

from semantik_runtime.vectors import Hit, SearchMode, SparseVector, VectorStore
from semantik_runtime.vectors.port import DOCUMENT_ID_FIELD, SPARSE_WEIGHT, DenseVector

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
    sparse_weight: float = SPARSE_WEIGHT,
    fields: Sequence[str] = (),
) -> list[Hit]:
    """The best ``wanted`` documents of generation ``name``, each as its best chunk
    (blocking: run it in a thread). A document's chunks are aggregated before the limit.
    Hybrid scores are cosine + ``sparse_weight`` x BM25 (the model's weight). Each hit's
    payload holds ``document_id`` and the top-level ``fields`` (those facets count)."""
    return search_pool(
        store, name, mode, dense, sparse, wanted, filters, sparse_weight, fields
    ).documents


class Found(NamedTuple):
    """What ``search_pool`` found in one collection."""

    #: The best documents asked for, each as its best chunk.
    documents: list[Hit]
    #: The first chunks of the query's pool asked for the facets, best first ([] without).
    pool: list[Hit]
    #: Whether the engine's pool holds more chunks than ``pool``.
    cut: bool


def search_pool(
    store: VectorStore,
    name: str,
    mode: SearchMode,
    dense: DenseVector | None,
    sparse: SparseVector | None,
    wanted: int,
    filters: Mapping[str, Any] | None = None,
    sparse_weight: float = SPARSE_WEIGHT,
    fields: Sequence[str] = (),
    candidates: int = 0,
) -> Found:
    """``search_generation``'s documents, and the first ``candidates`` chunks of the same
    query's own pool, for the facets (best first, a document's chunks not yet reduced to
    its best: ``fusion.documents_of``; the whole pool if it holds fewer; [] without):
    the query returns more points, never from a larger prefetch, so the documents are
    those of the search without candidates, and the candidates begin with them.

    The pool is what the query ranks anyway: in hybrid mode the union of the two
    prefetches (2 x ``prefetch_limit`` points at most); in one mode the prefetch's size,
    a limit that keeps the engine's HNSW beam (``max(ef, limit)``, ef 100) as it was.
    The first points of a pool are the same whatever the query's limit, but for the
    order of equal scores at the cut: ``Found.cut`` says where there may be more."""
    fetch = min(wanted * CHUNKS_PER_DOCUMENT, MAX_FETCH)
    both = mode == "hybrid" and dense is not None and sparse is not None and bool(sparse.indices)
    while True:
        prefetch = max(MIN_PREFETCH, fetch)
        limit = fetch
        pool = min(2 * prefetch if both else prefetch, MAX_FETCH)
        if candidates:
            limit = max(fetch, min(pool, candidates))
        hits = store.query(
            name,
            mode=mode,
            dense=dense,
            sparse=sparse,
            limit=limit,
            filters=filters or None,
            prefetch_limit=prefetch,
            payload=[DOCUMENT_ID_FIELD, *fields],
            sparse_weight=sparse_weight,
        )
        # The points a query of limit ``fetch`` returns: the pool's best.
        page = hits[:fetch]
        documents = best_chunk_per_document(page, wanted)
        # Too few documents among a full page of chunks: more may lie further down.
        if len(documents) == wanted or len(page) < fetch or fetch >= MAX_FETCH:
            if not candidates:
                return Found(documents, [], False)
            return Found(documents, hits, limit < pool and len(hits) == limit)
        fetch = min(fetch * 4, MAX_FETCH)


def with_payloads(
    store: VectorStore, picked: list[tuple[UUID, Hit, float]], names: Mapping[UUID, str]
) -> list[tuple[UUID, Hit, float]]:
    """``picked`` (collection, chunk, score) with each chunk's whole payload, read from
    its collection's generation ``names[collection]`` (blocking: run it in a thread).
    A chunk deleted since the query is left out."""
    wanted: dict[UUID, list[str]] = {}
    for collection_id, hit, _ in picked:
        wanted.setdefault(collection_id, []).append(hit.id)
    found = {
        (collection_id, hit.id): hit
        for collection_id, ids in wanted.items()
        for hit in store.retrieve(names[collection_id], ids)
    }
    return [
        (collection_id, Hit(id=hit.id, score=hit.score, payload=whole.payload), score)
        for collection_id, hit, score in picked
        if (whole := found.get((collection_id, hit.id))) is not None
    ]
