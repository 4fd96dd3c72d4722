"""Ranking of ``semantik.tune_hybrid`` in numpy, the same steps as the engine's.

A query's dense side is the cosine of every chunk, its sparse side BM25 over an
inverted index of the chunks' stored values with Qdrant's IDF modifier
(``ln(1 + (N - df + 0.5) / (df + 0.5))``). Hybrid takes the top ``prefetch`` chunks of
each side, scores the union with a fusion, and ranks documents by an aggregation of
their chunks' fused scores (the search service's best chunk, or a decayed sum).
The tuner checks these figures against the engine itself for the chosen setting.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .beir import mrr_at, ndcg_at, recall_at

Floats = npt.NDArray[np.float64]
Analyze = Callable[[str], list[str]]


@dataclass(frozen=True)
class SparseIndex:
    """Each term's chunks and stored BM25 values, and its IDF."""

    postings: dict[str, tuple[npt.NDArray[np.int64], Floats]]
    idf: dict[str, float]
    size: int


def build_index(
    texts: Sequence[str], analyze: Analyze, k1: float, b: float, avgdl: float
) -> SparseIndex:
    """The stored vectors of ``sparse.document_vector`` (saturated tf), inverted."""
    rows: dict[str, list[int]] = {}
    values: dict[str, list[float]] = {}
    for row, text in enumerate(texts):
        terms = analyze(text)
        if not terms:
            continue
        norm = k1 * (1.0 - b + b * len(terms) / avgdl)
        for term, tf in Counter(terms).items():
            rows.setdefault(term, []).append(row)
            values.setdefault(term, []).append(tf * (k1 + 1.0) / (tf + norm))
    n = len(texts)
    postings = {t: (np.array(rows[t]), np.array(values[t])) for t in rows}
    idf = {t: math.log(1.0 + (n - len(r) + 0.5) / (len(r) + 0.5)) for t, r in rows.items()}
    return SparseIndex(postings, idf, n)


def sparse_scores(index: SparseIndex, query: dict[str, float]) -> Floats:
    """BM25 of every chunk (0 where no term is shared) for query term weights."""
    scores = np.zeros(index.size)
    for term, weight in query.items():
        found = index.postings.get(term)
        if found is not None:
            scores[found[0]] += weight * index.idf[term] * found[1]
    return scores


def query_weights(terms: list[str], power: float) -> dict[str, float]:
    """Each term's count over the query's length to ``power`` (1: ``sparse.query_vector``)."""
    if not terms:
        return {}
    scale = len(terms) ** power
    return {term: tf / scale for term, tf in Counter(terms).items()}


def _top(scores: Floats, k: int, positive: bool = False) -> npt.NDArray[np.int64]:
    candidates = np.flatnonzero(scores > 0) if positive else np.arange(len(scores))
    if len(candidates) > k:
        part = np.argpartition(-scores[candidates], k - 1)[:k]
        candidates = candidates[part]
    return candidates[np.argsort(-scores[candidates], kind="stable")]


@dataclass(frozen=True)
class Fusion:
    """How the two lists' scores become one: ``sum`` (cosine + weight x BM25, the
    engine's formula), ``minmax`` (convex combination of min-max normalised scores,
    ``weight`` the sparse share), ``dbsf`` (Qdrant's distribution-based score fusion,
    each list's scores over mean +- 3 sd, sparse weighted) or ``rrf`` (reciprocal rank,
    k = 60, sparse weighted)."""

    kind: str
    weight: float


def _normalise(values: Floats, kind: str) -> Floats:
    if not len(values):
        return values
    if kind == "minmax":
        low, high = float(values.min()), float(values.max())
        return (values - low) / (high - low) if high > low else np.zeros_like(values)
    mean, sd = float(values.mean()), float(values.std())
    low, high = mean - 3 * sd, mean + 3 * sd
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def fused(
    dense: Floats, sparse: Floats, fusion: Fusion, prefetch: int
) -> tuple[npt.NDArray[np.int64], Floats]:
    """The hybrid candidates (union of both prefetches) and their fused scores."""
    top_dense = _top(dense, prefetch)
    top_sparse = _top(sparse, prefetch, positive=True)
    union = np.union1d(top_dense, top_sparse)
    if fusion.kind == "sum":
        return union, dense[union] + fusion.weight * sparse[union]
    if fusion.kind == "rrf":
        score = np.zeros(len(dense))
        score[top_dense] += 1.0 / (60 + np.arange(1, len(top_dense) + 1))
        score[top_sparse] += fusion.weight / (60 + np.arange(1, len(top_sparse) + 1))
        return union, score[union]
    # minmax and dbsf normalise each prefetch list alone; absent from a list scores 0.
    d = np.zeros(len(dense))
    s = np.zeros(len(dense))
    d[top_dense] = _normalise(dense[top_dense], fusion.kind)
    s[top_sparse] = _normalise(sparse[top_sparse], fusion.kind)
    if fusion.kind == "minmax":
        return union, (1 - fusion.weight) * d[union] + fusion.weight * s[union]
    return union, d[union] + fusion.weight * s[union]


def rank_documents(
    chunks: npt.NDArray[np.int64],
    scores: Floats,
    record_ids: Sequence[str],
    decay: float,
    limit: int,
    fetch: int = 400,
) -> list[str]:
    """Documents by their chunks' scores: the best chunk's (``decay`` 0) plus
    ``decay``-weighted later ones among the best ``fetch`` chunks (the i-th best chunk
    of a document counts ``decay ** i``), as the engine hands back ``fetch`` chunks."""
    if len(scores) > 1000:  # the most chunks the search service ever fetches
        top = np.argpartition(-scores, 999)[:1000]
        chunks, scores = chunks[top], scores[top]
    order = np.argsort(-scores, kind="stable")
    if decay > 0:
        order = order[:fetch]
    totals: dict[str, float] = {}
    seen: Counter[str] = Counter()
    for position in order:
        record = record_ids[int(chunks[position])]
        n = seen[record]
        seen[record] += 1
        if n == 0:
            totals[record] = float(scores[position])
            if decay == 0 and len(totals) == limit:
                break
        elif decay > 0:
            totals[record] += float(scores[position]) * decay**n
    ranked = sorted(totals, key=lambda r: -totals[r]) if decay > 0 else list(totals)
    return ranked[:limit]


def measure(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean NDCG@10, Recall@100, MRR@10 over ``runs``; a retrieved document whose id
    equals its query's is left out (BEIR's rule)."""
    ndcg = recall = mrr = 0.0
    for query, ranked in runs.items():
        kept = [d for d in ranked if d != query]
        ndcg += ndcg_at(kept, qrels[query], 10)
        recall += recall_at(kept, qrels[query], 100)
        mrr += mrr_at(kept, qrels[query], 10)
    n = len(runs) or 1
    return {"ndcg@10": ndcg / n, "recall@100": recall / n, "mrr@10": mrr / n}
