"""Translation of the port's points, filters and queries into Qdrant Edge's types."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import qdrant_edge as qe

from .common import (
    BOOL_COLUMNS,
    COLUMNS,
    column_name,
    directory_prefix,
    field_path,
    filter_values,
    split_values,
)
from .port import (
    DENSE_VECTOR,
    DOCUMENT_ID_FIELD,
    PATH_FIELD,
    PATH_PREFIX_FILTER,
    SPARSE_VECTOR,
    SPARSE_WEIGHT,
    DenseVector,
    Point,
    SearchMode,
    SparseVector,
)

__all__ = ["document_filter", "edge_config", "edge_point", "edge_request", "load_config"]


def _sparse_params() -> dict[str, qe.EdgeSparseVectorParams]:
    return {SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)}


def edge_config(dimension: int) -> qe.EdgeConfig:
    """Return the configuration of a new generation's shard (its search pool is set by
    ``load_config`` when the store opens it)."""
    return qe.EdgeConfig(
        vectors={DENSE_VECTOR: qe.EdgeVectorParams(dimension, qe.Distance.Cosine)},
        sparse_vectors=_sparse_params(),
    )


def load_config(search_threads: int) -> qe.EdgeConfig:
    """Return what opening a shard sets: its search pool, whatever the shard had before
    (a new one is opened right after it is made). The dense vectors' size is the
    shard's own, and the sparse vectors are the same in every generation."""
    return qe.EdgeConfig(sparse_vectors=_sparse_params(), max_search_threads=search_threads)


def edge_filter(
    filters: Mapping[str, Any] | None, ids: Sequence[str] | None = None
) -> qe.Filter | None:
    """Return a filter requiring every key to match its value, or any value of a list,
    and the point's id to be one of ``ids`` if given."""
    if not filters and ids is None:
        return None
    conditions: list[Any] = [] if ids is None else [qe.HasIdCondition(set(ids))]
    for key, value in (filters or {}).items():
        if key == PATH_PREFIX_FILTER:
            prefix = qe.MatchPrefix(directory_prefix(value))
            conditions.append(qe.FieldCondition(key=PATH_FIELD, match=prefix))
        else:
            conditions.append(_any_of(key, filter_values(key, value)))
    return qe.Filter(must=conditions)


def _any_of(key: str, values: list[str | int | bool]) -> Any:
    """A condition true when field ``key`` holds one of ``values``: texts and numbers
    in the field, bools as 0/1 in ``BOOL_COLUMNS`` (Edge matches no bool)."""
    texts, numbers, bools = split_values(values)
    path = field_path(key)
    found: list[Any] = []
    if texts:
        found.append(qe.FieldCondition(key=path, match=qe.MatchAny(texts)))
    if numbers or not (texts or bools):  # an empty list matches nothing
        found.append(qe.FieldCondition(key=path, match=qe.MatchAny(numbers)))
    if bools:
        if column_name(key) is None:
            raise ValueError(f"Qdrant Edge matches a bool in a record column only, not {key!r}")
        shadow = field_path(key, BOOL_COLUMNS)
        found.append(qe.FieldCondition(key=shadow, match=qe.MatchAny([int(b) for b in bools])))
    return found[0] if len(found) == 1 else qe.Filter(should=found)


def document_filter(document_id: str) -> qe.Filter:
    """Return the filter selecting every chunk of one document."""
    return qe.Filter(
        must=[qe.FieldCondition(key=DOCUMENT_ID_FIELD, match=qe.MatchValue(document_id))]
    )


def _sparse(vector: SparseVector) -> qe.SparseVector:
    return qe.SparseVector(vector.indices, vector.values)


def edge_point(point: Point) -> qe.Point:
    """Return ``point`` as Edge stores it; numpy dense vectors are accepted as they are."""
    vectors = {DENSE_VECTOR: point.dense, SPARSE_VECTOR: _sparse(point.sparse)}
    payload = point.payload
    columns = payload.get(COLUMNS)
    if isinstance(columns, dict):
        bools = {name: int(v) for name, v in columns.items() if isinstance(v, bool)}
        if bools:
            payload = {**payload, BOOL_COLUMNS: bools}
    return qe.Point(point.id, vectors, payload)  # type: ignore[arg-type]


def edge_request(
    mode: SearchMode,
    dense: DenseVector | None,
    sparse: SparseVector | None,
    limit: int,
    filters: Mapping[str, Any] | None,
    prefetch_limit: int,
    payload: Sequence[str] | None = None,
    sparse_weight: float = SPARSE_WEIGHT,
    ids: Sequence[str] | None = None,
) -> qe.QueryRequest | None:
    """Return the request for a checked query, or ``None`` if it can match nothing."""
    where = edge_filter(filters, ids)
    returned: Any = True  # the whole payload
    if payload:
        returned = qe.PayloadSelector.Include(list(payload))
    elif payload is not None:
        returned = False  # none at all: the store's index answers the fields
    stages: list[qe.Prefetch] = []
    dense_query = sparse_query = None
    if dense is not None and mode in ("dense", "hybrid"):
        dense_query = qe.Query.Nearest(dense, using=DENSE_VECTOR)  # type: ignore[arg-type]
        stages.append(qe.Prefetch(prefetch_limit, query=dense_query, filter=where))
    if sparse is not None and sparse.indices and mode in ("sparse", "hybrid"):
        sparse_query = qe.Query.Nearest(_sparse(sparse), using=SPARSE_VECTOR)
        stages.append(qe.Prefetch(prefetch_limit, query=sparse_query, filter=where))
    if not stages:
        return None  # a sparse query whose every word was a stop word matches nothing
    if mode != "hybrid" or dense_query is None or sparse_query is None:
        return qe.QueryRequest(limit, query=stages[0].query, filter=where, with_payload=returned)
    # Every candidate of either prefetch is scored again by both vectors, so the formula
    # sees its exact cosine and BM25 scores (0 for BM25 means no shared term).
    union = 2 * prefetch_limit
    rescored = [
        qe.Prefetch(union, query=dense_query, prefetches=stages, filter=where),
        qe.Prefetch(union, query=sparse_query, prefetches=stages, filter=where),
    ]
    E = qe.Expression
    score = E.Sum(
        [E.Variable("$score[0]"), E.Mult([E.Constant(sparse_weight), E.Variable("$score[1]")])]
    )
    formula = qe.Formula(score, defaults={"$score[0]": 0.0, "$score[1]": 0.0})
    return qe.QueryRequest(
        limit, query=formula, prefetches=rescored, filter=where, with_payload=returned
    )
