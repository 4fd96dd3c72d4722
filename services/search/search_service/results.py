"""A page of ranked chunks as the results a person reads: the score shown, the rank in
the whole list, highlights and a snippet of each text, and explain when asked for."""

from __future__ import annotations

from uuid import UUID

from semantik_contracts.search import Explain, SearchResult
from semantik_runtime.vectors import Hit

from .fusion import to_result
from .highlight import matches, query_terms, snippet

#: A ranked chunk: its collection, the hit (whole payload), the value that ranked it.
Ranked = tuple[UUID, Hit, float]


def page_results(
    query: str,
    page: list[Ranked],
    offset: int,
    reranked: dict[tuple[UUID, str], float],
    explained: list[Explain] | None,
) -> list[SearchResult]:
    """The results of ``page``, ranked from ``offset + 1``. Each one's score is the
    cross-encoder's where it reranked the result, else the collection's own score of its
    best chunk (never the rank fusion's value, which only orders a federated list)."""
    terms = query_terms(query)
    results = []
    for index, (collection_id, hit, _) in enumerate(page):
        text = str(hit.payload.get("text", ""))
        found = matches(text, terms)
        results.append(
            to_result(
                collection_id,
                hit,
                reranked.get((collection_id, hit.id), hit.score),
                offset + index + 1,
                highlights=[(start, end) for start, end, _ in found],
                snippet=snippet(text, found),
                explain=None if explained is None else explained[index],
            )
        )
    return results
