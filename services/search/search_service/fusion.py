"""Pure ranking steps of search: documents from chunks, and fusion across collections."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any
from uuid import UUID

from semantik_contracts.search import Explain, SearchResult, Span
from semantik_runtime.vectors import Hit

#: Rank constant of reciprocal rank fusion across collections (qdrant-client's default
#: is 2; 60 scored higher on SciFact and NFCorpus).
RRF_K = 60

# Payload keys that become fields of a result; the rest of the payload is its metadata.
_LIFTED = frozenset({"text", "path", "document_id", "collection_id"})


@dataclass(frozen=True)
class RankedList:
    """One collection's hits, best first: its documents, each represented by its best
    chunk; or, for the facets, the chunks of its query's pool (``documents_of``)."""

    collection_id: UUID
    hits: list[Hit]
    #: For a pool: whether the engine's pool holds more chunks than ``hits``.
    cut: bool = False


def _firsts(hits: Iterable[Hit]) -> Iterator[Hit]:
    """Each document's first hit (its best: hits come best first), in order; a point
    without ``document_id`` is not one the embedder wrote, and is left out."""
    seen: set[object] = set()
    for hit in hits:
        document = hit.payload.get("document_id")
        if document is not None and document not in seen:
            seen.add(document)
            yield hit


def best_chunk_per_document(hits: list[Hit], limit: int) -> list[Hit]:
    """Keep each document's best chunk (hits come best first), then the first ``limit``."""
    return list(islice(_firsts(hits), limit))


def _document_key(hit: Hit) -> str:
    return str(hit.payload.get("document_id"))


def _ties_broken(hits: Iterable[Hit]) -> Iterator[Hit]:
    """``hits`` with each run of equal scores ordered by document id, read only as far
    as asked for (a run is read whole)."""
    run: list[Hit] = []
    for hit in hits:
        if run and hit.score != run[0].score:
            yield from sorted(run, key=_document_key) if len(run) > 1 else run
            run = []
        run.append(hit)
    yield from sorted(run, key=_document_key) if len(run) > 1 else run


def break_ties(hits: list[Hit]) -> list[Hit]:
    """``hits`` with each run of equal scores ordered by document id, the rest as it is:
    the engine may return equal scores in any order, and pages must cut one order.
    Equal scores are rare (equal texts): without any, ``hits`` is returned as it is."""
    if len({hit.score for hit in hits}) == len(hits):
        return hits
    return list(_ties_broken(hits))


def documents_of(hits: Iterable[Hit]) -> Iterator[Hit]:
    """``break_ties(best_chunk_per_document(hits, ...))``, read from ``hits`` only as far
    as its documents are asked for (a run of equal scores is read whole)."""
    return _ties_broken(_firsts(hits))


def fuse(lists: list[RankedList], limit: int) -> list[tuple[UUID, Hit, float]]:
    """Merge the collections' lists by reciprocal rank fusion, never by their raw scores
    (each collection may use another model). With one list, its own scores are kept.

    Equal fused scores (the same rank in two collections) keep the order of ``lists``.
    """
    if len(lists) == 1:
        only = lists[0]
        return [(only.collection_id, hit, hit.score) for hit in only.hits[:limit]]
    return fuse_ranks([(ranked.collection_id, iter(ranked.hits)) for ranked in lists], limit)


def fuse_ranks(
    lists: Sequence[tuple[UUID, Iterator[Hit]]], limit: int
) -> list[tuple[UUID, Hit, float]]:
    """Reciprocal rank fusion of lists given as iterators, each read only as far as the
    first ``limit`` fused need. A fused score depends on the rank alone, so the fused
    order is every list's first in the order of ``lists``, then every list's second,
    and so on: merged so, without sorting."""
    fused: list[tuple[UUID, Hit, float]] = []
    live = list(lists)
    rank = 1
    while live and len(fused) < limit:
        score = 1.0 / (RRF_K + rank)
        going = []
        for collection_id, hits in live:
            if len(fused) == limit:
                break
            hit = next(hits, None)
            if hit is not None:
                fused.append((collection_id, hit, score))
                going.append((collection_id, hits))
        live, rank = going, rank + 1
    return fused


def to_result(
    collection_id: UUID,
    hit: Hit,
    score: float,
    rank: int,
    *,
    highlights: list[Span] | None = None,
    snippet: tuple[str, int, list[Span]] | None = None,
    explain: Explain | None = None,
) -> SearchResult:
    payload: dict[str, Any] = hit.payload
    return SearchResult(
        collection_id=collection_id,
        document_id=UUID(str(payload["document_id"])),
        chunk_id=UUID(hit.id),
        path=str(payload.get("path", "")),
        text=str(payload.get("text", "")),
        score=score,
        rank=rank,
        metadata={k: v for k, v in payload.items() if k not in _LIFTED},
        highlights=highlights or [],
        snippet=snippet[0] if snippet else "",
        snippet_start=snippet[1] if snippet else 0,
        snippet_highlights=snippet[2] if snippet else [],
        explain=explain,
    )
