"""Translation of the port's points, filters and queries into qdrant-client's models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from .common import directory_prefix, field_path, filter_values, split_values
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

__all__ = ["document_filter", "run_query", "server_filter", "server_point"]


def server_filter(
    filters: Mapping[str, Any] | None, ids: Sequence[str] | None = None
) -> models.Filter | None:
    """Return a filter requiring every key to match its value, or any value of a list,
    and the point's id to be one of ``ids`` if given."""
    if not filters and ids is None:
        return None
    conditions: list[models.Condition] = (
        [] if ids is None else [models.HasIdCondition(has_id=list(ids))]
    )
    for key, value in (filters or {}).items():
        if key == PATH_PREFIX_FILTER:
            prefix = models.MatchPrefix(prefix=directory_prefix(value))
            conditions.append(models.FieldCondition(key=PATH_FIELD, match=prefix))
        else:
            conditions.append(_any_of(key, filter_values(key, value)))
    return models.Filter(must=conditions)


def _any_of(key: str, values: list[str | int | bool]) -> models.Condition:
    """A condition true when field ``key`` holds one of ``values`` (a bool matched as
    itself: ``MatchAny`` takes texts or integers only)."""
    texts, numbers, bools = split_values(values)
    path = field_path(key)
    found: list[models.Condition] = [
        models.FieldCondition(key=path, match=models.MatchValue(value=b)) for b in bools
    ]
    if texts:
        found.append(models.FieldCondition(key=path, match=models.MatchAny(any=texts)))
    if numbers or not found:  # an empty list matches nothing
        found.append(models.FieldCondition(key=path, match=models.MatchAny(any=numbers)))
    return found[0] if len(found) == 1 else models.Filter(should=found)


def document_filter(document_id: str) -> models.Filter:
    """Return the filter selecting every chunk of one document."""
    condition = models.FieldCondition(
        key=DOCUMENT_ID_FIELD, match=models.MatchValue(value=document_id)
    )
    return models.Filter(must=[condition])


def _dense(vector: DenseVector) -> list[float]:
    # The REST models validate plain lists; a numpy array has to be converted.
    return vector.tolist() if isinstance(vector, np.ndarray) else list(vector)


def _sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=vector.indices, values=vector.values)


def server_point(point: Point) -> models.PointStruct:
    """Return ``point`` as the REST API stores it."""
    return models.PointStruct(
        id=point.id,
        vector={DENSE_VECTOR: _dense(point.dense), SPARSE_VECTOR: _sparse(point.sparse)},
        payload=point.payload,
    )


def run_query(
    client: QdrantClient,
    name: str,
    mode: SearchMode,
    dense: DenseVector | None,
    sparse: SparseVector | None,
    limit: int,
    filters: Mapping[str, Any] | None,
    prefetch_limit: int,
    payload: bool | list[str] = True,
    sparse_weight: float = SPARSE_WEIGHT,
    ids: Sequence[str] | None = None,
) -> list[models.ScoredPoint]:
    """Run a checked query on collection ``name``; fusion happens on the server."""
    where = server_filter(filters, ids)
    # Every stage gets the filter, so the prefetches rank only allowed points.
    stages: list[models.Prefetch] = []
    if dense is not None and mode in ("dense", "hybrid"):
        stages.append(
            models.Prefetch(
                query=_dense(dense), using=DENSE_VECTOR, filter=where, limit=prefetch_limit
            )
        )
    if sparse is not None and sparse.indices and mode in ("sparse", "hybrid"):
        stages.append(
            models.Prefetch(
                query=_sparse(sparse), using=SPARSE_VECTOR, filter=where, limit=prefetch_limit
            )
        )
    if not stages:
        return []  # a sparse query whose every word was a stop word matches nothing
    if mode != "hybrid" or len(stages) == 1:
        stage = stages[0]
        response = client.query_points(
            name,
            query=stage.query,
            using=stage.using,
            query_filter=where,
            limit=limit,
            with_payload=payload,
        )
    else:
        # Every candidate of either prefetch is scored again by both vectors, so the
        # formula sees its exact cosine and BM25 scores (0 for BM25: no shared term).
        union = 2 * prefetch_limit
        rescored = [
            models.Prefetch(
                prefetch=stages, query=stage.query, using=stage.using, filter=where, limit=union
            )
            for stage in stages
        ]
        score = models.SumExpression(
            sum=["$score[0]", models.MultExpression(mult=[sparse_weight, "$score[1]"])]
        )
        response = client.query_points(
            name,
            prefetch=rescored,
            query=models.FormulaQuery(formula=score, defaults={"$score[0]": 0.0, "$score[1]": 0.0}),
            query_filter=where,
            limit=limit,
            with_payload=payload,
        )
    return response.points
