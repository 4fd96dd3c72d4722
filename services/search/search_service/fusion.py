"""Pure ranking steps of search: documents from chunks, and fusion across collections."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
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
    """One collection's documents, best first, each represented by its best chunk."""

    collection_id: UUID
    hits: list[Hit]


def best_chunk_per_document(hits: list[Hit], limit: int) -> list[Hit]:
    """Keep each document's best chunk (hits come best first), then the first ``limit``."""
    seen: set[object] = set()
    documents: list[Hit] = []
    for hit in hits:
        document = hit.payload.get("document_id")
        if document is None or document in seen:
            continue  # no document_id: not a point the embedder wrote
        seen.add(document)
        documents.append(hit)
        if len(documents) == limit:
            break
    return documents


def _document_key(hit: Hit) -> str:
    return str(hit.payload.get("document_id"))


def break_ties(hits: list[Hit]) -> list[Hit]:
    """``hits`` with each run of equal scores ordered by document id, the rest as it is:
    the engine may return equal scores in any order, and pages must cut one order.
    Equal scores are rare (equal texts): without any, ``hits`` is returned as it is."""
    if len({hit.score for hit in hits}) == len(hits):
        return hits
    ordered: list[Hit] = []
    for _, run in groupby(hits, key=lambda hit: hit.score):
        ordered.extend(sorted(run, key=_document_key))
    return ordered


def fuse(lists: list[RankedList], limit: int) -> list[tuple[UUID, Hit, float]]:
    """Merge the collections' lists by reciprocal rank fusion, never by their raw scores
    (each collection may use another model). With one list, its own scores are kept.

    Equal fused scores (the same rank in two collections) keep the order of ``lists``.
    A fused score depends on the rank alone, so the fused order is every list's first
    document in the order of ``lists``, then every list's second, and so on: the merge
    takes them so, without sorting, and stops at ``limit``.
    """
    if len(lists) == 1:
        only = lists[0]
        return [(only.collection_id, hit, hit.score) for hit in only.hits[:limit]]
    fused: list[tuple[UUID, Hit, float]] = []
    longest = max((len(ranked.hits) for ranked in lists), default=0)
    for rank in range(min(longest, max(limit, 0))):
        score = 1.0 / (RRF_K + rank + 1)
        for ranked in lists:
            if rank < len(ranked.hits):
                fused.append((ranked.collection_id, ranked.hits[rank], score))
        if len(fused) >= limit:
            break
    return fused[:limit]


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
