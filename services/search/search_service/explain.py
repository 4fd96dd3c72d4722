"""``explain: true``: each returned chunk's cosine and BM25 scores, asked of the engine.

The store scores the page's chunks alone (``VectorStore.query(ids=...)``), once by the
dense query and once by the sparse one, so the figures are the engine's own: the
sparse score is BM25 with the collection's IDF, as hybrid search adds it. Only a search
that asks for explain pays for the two reads per collection.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from semantik_contracts.search import Explain
from semantik_runtime.vectors import SparseVector, VectorStore
from semantik_runtime.vectors.port import DOCUMENT_ID_FIELD, DenseVector

from .fusion import RankedList

#: A chunk's (cosine, BM25) scores; ``None`` where the search had no such query.
Scores = tuple[float | None, float | None]


def chunk_scores(
    store: VectorStore,
    name: str,
    ids: Sequence[str],
    dense: DenseVector | None,
    sparse: SparseVector | None,
) -> dict[str, Scores]:
    """The cosine and BM25 score of each chunk ``ids`` of generation ``name`` (blocking:
    run it on the store's lane). A chunk sharing no term with the query has BM25 0; a
    sparse search has no dense query, so no cosine."""
    only, fields = list(ids), [DOCUMENT_ID_FIELD]
    cosine: dict[str, float] = {}
    bm25: dict[str, float] = {}
    if dense is not None:
        found = store.query(
            name, mode="dense", dense=dense, sparse=None, limit=len(only), ids=only, payload=fields
        )
        cosine = {hit.id: hit.score for hit in found}
    if sparse is not None and sparse.indices:
        found = store.query(
            name,
            mode="sparse",
            dense=None,
            sparse=sparse,
            limit=len(only),
            ids=only,
            payload=fields,
        )
        bm25 = {hit.id: hit.score for hit in found}
    return {
        chunk: (
            None if dense is None else cosine.get(chunk),
            None if sparse is None else bm25.get(chunk, 0.0),
        )
        for chunk in ids
    }


def ranks(lists: list[RankedList]) -> dict[tuple[UUID, str], int]:
    """Each (collection, chunk)'s rank in its collection's list of documents."""
    return {
        (ranked.collection_id, hit.id): rank
        for ranked in lists
        for rank, hit in enumerate(ranked.hits, start=1)
    }


def explain(scores: Scores, fused: float, rank_in_collection: int, rerank: float | None) -> Explain:
    dense, sparse = scores
    return Explain(
        dense=dense,
        sparse=sparse,
        fused=fused,
        rank_in_collection=rank_in_collection,
        rerank=rerank,
    )
