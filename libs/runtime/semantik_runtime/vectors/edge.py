"""VectorStore on Qdrant Edge: Qdrant's engine embedded in this process, one shard per
generation in ``root_dir/<name>/``.

Only one process may open a shard: its write-ahead log is locked, and a second opener
fails. That is why the embedded default hosts the embedder and search in one process.
Within the process the store is thread-safe (the embedder writes while search reads).

The engine holds the GIL while it upserts and queries (measured: upserting 20k points
of 384 dimensions stalled other threads for 0.3 s) but releases it in ``optimize()``,
so callers upsert in modest batches to keep an event loop responsive.

Each shard searches its segments on a pool of ``search_threads`` threads. One by
default: the engine's own default (a thread per CPU) hands every prefetch stage of a
query to another thread, which cost a one-segment shard more than it gained. A hybrid
query over 3,854 chunks took 1.22-1.25 ms with one thread against 1.54-1.64 ms with
the default, and one of 50,000 chunks in two segments 1.7-1.9 ms either way (2 cores).
A large shard on a machine of many cores may gain from more (``SEMANTIK_EDGE_SEARCH_THREADS``).

A query that asks only for a chunk's document fields (its document's id, file type,
source and MIME type) returns no payload from the engine: each shard's ``PayloadIndex``
answers them from the point's id (``edge_index``), 0.7 us a point where the engine's
payloads cost about 4 us.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from .common import check_generation_name, check_query, in_order, stored_payload, to_hits
from .edge_index import INDEXED_FIELDS, PayloadIndex, scroll_step
from .edge_query import document_filter, edge_config, edge_point, edge_request, load_config
from .edge_shard import ShardSlot
from .port import (
    DOCUMENT_ID_FIELD,
    SPARSE_WEIGHT,
    DenseVector,
    GenerationNotFoundError,
    Hit,
    Point,
    SearchMode,
    SparseVector,
    VectorStore,
)

__all__ = ["EdgeVectorStore"]


class EdgeVectorStore(VectorStore):
    """Qdrant Edge shards under ``root_dir``; existing shards are reopened on construction.

    Shard directories are created under a hidden temporary name and renamed into place,
    and dropped ones are renamed away before deletion, so a crash never leaves a
    half-made shard under a generation's name; hidden leftovers are removed on startup.
    """

    #: It keeps the GIL while it searches (see the module's docstring).
    parallel_queries = False

    def __init__(self, root_dir: Path, *, search_threads: int = 1) -> None:
        self._root = root_dir
        self._search_threads = search_threads
        self._root.mkdir(parents=True, exist_ok=True)
        # Guards the slot table and serialises creating and dropping generations.
        self._lock = threading.Lock()
        self._slots: dict[str, ShardSlot] = {}
        #: Each shard's document fields by point id (``edge_index``).
        self._indexes: dict[str, PayloadIndex] = {}
        try:
            for entry in sorted(self._root.iterdir()):
                if entry.name.startswith("."):
                    shutil.rmtree(entry, ignore_errors=True)
                elif entry.is_dir():
                    self._slots[entry.name] = ShardSlot(self._load(entry))
                    self._indexes[entry.name] = PayloadIndex()
        except BaseException:
            # Release the shards already opened, or their WAL locks outlive this failure.
            self.close()
            raise

    def _load(self, directory: Path) -> qe.EdgeShard:
        return qe.EdgeShard.load(str(directory), load_config(self._search_threads))

    def create_generation(self, name: str, dimension: int) -> None:
        check_generation_name(name)
        with self._lock:
            if name in self._slots:
                return
            staging = self._root / f".new-{name}-{uuid.uuid4().hex}"
            shard = qe.EdgeShard.create(str(staging), edge_config(dimension))
            try:
                shard.update(
                    qe.UpdateOperation.create_field_index(
                        DOCUMENT_ID_FIELD, qe.PayloadSchemaType.Keyword
                    )
                )
            finally:
                shard.close()
            staging.rename(self._root / name)
            self._slots[name] = ShardSlot(self._load(self._root / name))
            self._indexes[name] = PayloadIndex.empty()

    def drop_generation(self, name: str) -> None:
        with self._lock:
            slot = self._slots.pop(name, None)
            if slot is None:
                return
            self._indexes.pop(name, None)
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
        batch = [edge_point(p) for p in points]
        with self._slot(name).use(name) as shard:
            # In the index first: a point a query can return is always there.
            self._index(name).put((p.id, p.payload) for p in points)
            shard.update(qe.UpdateOperation.upsert_points(batch))

    def delete_points(self, name: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        with self._slot(name).use(name) as shard:
            shard.update(qe.UpdateOperation.delete_points(list(ids)))
        self._index(name).forget_points(ids)

    def delete_document(self, name: str, document_id: str) -> None:
        # Served by the keyword index on document_id that every generation gets.
        condition = document_filter(document_id)
        with self._slot(name).use(name) as shard:
            shard.update(qe.UpdateOperation.delete_points_by_filter(condition))
        self._index(name).forget_document(document_id)

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
        payload: Sequence[str] | None = None,
        sparse_weight: float = SPARSE_WEIGHT,
        ids: Sequence[str] | None = None,
    ) -> list[Hit]:
        check_query(mode, dense, sparse, limit)
        index = self._index(name)
        indexed = index.answers(payload)
        returned = () if indexed else payload
        request = edge_request(
            mode, dense, sparse, limit, filters, prefetch_limit, returned, sparse_weight, ids
        )
        slot = self._slots.get(name)
        if request is None or slot is None:
            return []
        with slot.use_if_open() as shard:
            if shard is None:
                return []
            found = shard.query(request)
            if not indexed:
                if payload is not None and not index.ready:
                    index.start_filling(lambda offset: self._scroll(name, offset))
                return to_hits(found, mode)
            assert payload is not None  # answers() says so
            return self._indexed_hits(shard, index, found, mode, payload)

    @staticmethod
    def _indexed_hits(
        shard: qe.EdgeShard,
        index: PayloadIndex,
        found: Sequence[Any],
        mode: SearchMode,
        fields: Sequence[str],
    ) -> list[Hit]:
        """Hits of ``found`` (points without payload) with ``fields`` from the index; a
        point it does not know (written by no upsert of this store) is read from the
        shard, and left out if it is gone."""
        points = [p for p in found if mode != "sparse" or p.score > 0]
        known = index.payloads([p.id for p in points], fields)
        missing = [p.id for p, payload in zip(points, known, strict=True) if payload is None]
        if missing:
            selector = qe.PayloadSelector.Include(list(INDEXED_FIELDS))
            records = shard.retrieve(missing, selector, False)
            index.put((record.id, record.payload) for record in records)
            known = index.payloads([p.id for p in points], fields)
        return [
            Hit.of(point, point.score, payload)
            for point, payload in zip(points, known, strict=True)
            if payload is not None
        ]

    def _index(self, name: str) -> PayloadIndex:
        index = self._indexes.get(name)
        if index is None:  # a generation dropped meanwhile: an index that is never used
            return PayloadIndex()
        return index

    def _scroll(self, name: str, offset: Any) -> tuple[list[Any], Any] | None:
        """One step of filling ``name``'s index; None once the shard is closed."""
        slot = self._slots.get(name)
        if slot is None:
            return None
        with slot.use_if_open() as shard:
            return None if shard is None else scroll_step(shard, offset)

    def retrieve(self, name: str, ids: Sequence[str]) -> list[Hit]:
        slot = self._slots.get(name)
        if slot is None or not ids:
            return []
        with slot.use_if_open() as shard:
            if shard is None:
                return []
            records = shard.retrieve(list(ids), True, False)
        return in_order(ids, [(str(r.id), dict(r.payload or {})) for r in records])

    def sample(self, name: str, limit: int) -> list[Hit]:
        slot = self._slots.get(name)
        if slot is None or limit < 1:
            return []
        with slot.use_if_open() as shard:
            if shard is None:
                return []
            records, _ = shard.scroll(qe.ScrollRequest(limit=limit, with_payload=True))
        return [Hit(id=str(r.id), score=0.0, payload=stored_payload(r.payload)) for r in records]

    def document_chunks(
        self, name: str, document_id: str, *, limit: int, after: str | None = None
    ) -> tuple[list[Hit], str | None]:
        slot = self._slots.get(name)
        if slot is None or limit < 1:
            return [], None
        request = qe.ScrollRequest(
            offset=after, limit=limit, filter=document_filter(document_id), with_payload=True
        )
        with slot.use_if_open() as shard:
            if shard is None:
                return [], None
            records, following = shard.scroll(request)
        hits = [Hit(id=str(r.id), score=0.0, payload=stored_payload(r.payload)) for r in records]
        return hits, None if following is None else str(following)

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
            self._indexes = {}
            for slot in slots.values():
                slot.retire()
