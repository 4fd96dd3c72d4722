"""VectorStore on Qdrant Edge: Qdrant's engine embedded in this process, one shard per
generation in ``root_dir/<name>/``.

Only one process may open a shard: its write-ahead log is locked, and a second opener
fails. That is why the embedded default hosts the embedder and search in one process.
Within the process the store is thread-safe (the embedder writes while search reads).
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import qdrant_edge as qe

from .edge_shard import ShardSlot
from .port import (
    DENSE_VECTOR,
    DOCUMENT_ID_FIELD,
    RRF_K,
    SPARSE_VECTOR,
    DenseVector,
    GenerationNotFoundError,
    Hit,
    Point,
    SearchMode,
    SparseVector,
    VectorStore,
    check_generation_name,
    check_query,
)

__all__ = ["EdgeVectorStore"]


def _filter(filters: Mapping[str, Any] | None) -> qe.Filter | None:
    if not filters:
        return None
    conditions: list[Any] = [
        qe.FieldCondition(
            key=key,
            match=qe.MatchAny(list(value))
            if isinstance(value, list | tuple | set | frozenset)
            else qe.MatchValue(value),
        )
        for key, value in filters.items()
    ]
    return qe.Filter(must=conditions)


def _sparse(vector: SparseVector) -> qe.SparseVector:
    return qe.SparseVector(vector.indices, vector.values)


class EdgeVectorStore(VectorStore):
    """Qdrant Edge shards under ``root_dir``; existing shards are reopened on construction.

    Shard directories are created under a hidden temporary name and renamed into place,
    and dropped ones are renamed away before deletion, so a crash never leaves a
    half-made shard under a generation's name; hidden leftovers are removed on startup.
    """

    def __init__(self, root_dir: Path) -> None:
        self._root = root_dir
        self._root.mkdir(parents=True, exist_ok=True)
        # Guards the slot table and serialises creating and dropping generations.
        self._lock = threading.Lock()
        self._slots: dict[str, ShardSlot] = {}
        for entry in sorted(self._root.iterdir()):
            if entry.name.startswith("."):
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.is_dir():
                self._slots[entry.name] = ShardSlot(qe.EdgeShard.load(str(entry)))

    def create_generation(self, name: str, dimension: int) -> None:
        check_generation_name(name)
        with self._lock:
            if name in self._slots:
                return
            staging = self._root / f".new-{name}-{uuid.uuid4().hex}"
            config = qe.EdgeConfig(
                vectors={DENSE_VECTOR: qe.EdgeVectorParams(dimension, qe.Distance.Cosine)},
                sparse_vectors={SPARSE_VECTOR: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            )
            shard = qe.EdgeShard.create(str(staging), config)
            try:
                shard.update(
                    qe.UpdateOperation.create_field_index(
                        DOCUMENT_ID_FIELD, qe.PayloadSchemaType.Keyword
                    )
                )
            finally:
                shard.close()
            staging.rename(self._root / name)
            self._slots[name] = ShardSlot(qe.EdgeShard.load(str(self._root / name)))

    def drop_generation(self, name: str) -> None:
        with self._lock:
            slot = self._slots.pop(name, None)
            if slot is None:
                return
            slot.retire()
            doomed = self._root / f".drop-{name}-{uuid.uuid4().hex}"
            (self._root / name).rename(doomed)
            shutil.rmtree(doomed, ignore_errors=True)

    def has_generation(self, name: str) -> bool:
        return name in self._slots

    def generations(self) -> list[str]:
        return sorted(self._slots)

    def _slot(self, name: str) -> ShardSlot:
        slot = self._slots.get(name)
        if slot is None:
            raise GenerationNotFoundError(name)
        return slot

    def upsert(self, name: str, points: Sequence[Point]) -> None:
        if not points:
            return
        batch = [
            qe.Point(
                p.id,
                {DENSE_VECTOR: p.dense, SPARSE_VECTOR: _sparse(p.sparse)},  # type: ignore[dict-item]
                p.payload,
            )
            for p in points
        ]
        with self._slot(name).use(name) as shard:
            shard.update(qe.UpdateOperation.upsert_points(batch))

    def delete_points(self, name: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        with self._slot(name).use(name) as shard:
            shard.update(qe.UpdateOperation.delete_points(list(ids)))

    def delete_document(self, name: str, document_id: str) -> None:
        condition = _filter({DOCUMENT_ID_FIELD: document_id})
        assert condition is not None
        with self._slot(name).use(name) as shard:
            shard.update(qe.UpdateOperation.delete_points_by_filter(condition))

    def count(self, name: str) -> int:
        slot = self._slots.get(name)
        if slot is None:
            return 0
        with slot.use_if_open() as shard:
            return 0 if shard is None else shard.count(qe.CountRequest(exact=True))

    def query(
        self,
        name: str,
        *,
        mode: SearchMode,
        dense: DenseVector | None,
        sparse: SparseVector | None,
        limit: int,
        filters: Mapping[str, Any] | None = None,
        prefetch_limit: int = 100,
    ) -> list[Hit]:
        check_query(mode, dense, sparse, limit)
        where = _filter(filters)
        stages: list[qe.Prefetch] = []
        if dense is not None and mode in ("dense", "hybrid"):
            nearest = qe.Query.Nearest(dense, using=DENSE_VECTOR)  # type: ignore[arg-type]
            stages.append(qe.Prefetch(prefetch_limit, query=nearest, filter=where))
        if sparse is not None and sparse.indices and mode in ("sparse", "hybrid"):
            nearest = qe.Query.Nearest(_sparse(sparse), using=SPARSE_VECTOR)
            stages.append(qe.Prefetch(prefetch_limit, query=nearest, filter=where))
        if not stages:
            return []  # a sparse query whose every word was a stop word matches nothing
        if mode == "hybrid":
            request = qe.QueryRequest(
                limit,
                query=cast(qe.Fusion, qe.Fusion.Rrf(k=RRF_K)),  # stubs omit Rrf from the union
                prefetches=stages,
                filter=where,
                with_payload=True,
            )
        else:
            request = qe.QueryRequest(limit, query=stages[0].query, filter=where, with_payload=True)
        slot = self._slots.get(name)
        if slot is None:
            return []
        with slot.use_if_open() as shard:
            found = [] if shard is None else shard.query(request)
        # Sparse search only reaches points sharing a term, so a score of 0 means no
        # match; dropping them keeps a defensive guarantee should the engine change.
        return [
            Hit(id=str(p.id), score=p.score, payload=p.payload or {})
            for p in found
            if mode != "sparse" or p.score > 0
        ]

    def set_alias(self, alias: str, name: str) -> None:
        """Do nothing: aliases exist for readers outside Semantik, and an embedded shard
        has none (its one process resolves the active generation from the event log)."""
        self._slot(name)

    def optimize(self, name: str) -> None:
        """Merge segments and build the HNSW index; it runs without holding the GIL."""
        with self._slot(name).use(name) as shard:
            shard.optimize()

    def close(self) -> None:
        with self._lock:
            slots, self._slots = self._slots, {}
            for slot in slots.values():
                slot.retire()
