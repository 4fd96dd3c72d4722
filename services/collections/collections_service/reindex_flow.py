"""Checkpoints 4 to 6 of a reindex: validate, activate, clean up (1 to 3 are in
``application.py``, ``_new_reindex``, and ``operation_process.py``).

Driven by a periodic ``tick`` rather than by the last ``ChunksEmbedded``, so that a
restarted service picks up a reindex that was waiting for validation, and a replaced
generation is dropped when its grace period ends even if nothing else happens.
Validation asks the embedder (point counts, sample texts) and the search service
(the same queries against both generations) over the bus; a reply that does not come
is retried on the next tick (the operation timeout bounds that), a wrong answer fails
the reindex.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel
from semantik_contracts import (
    ErrorCode,
    OperationStatus,
    OperationType,
    RpcError,
    RpcFailure,
    SearchType,
)
from semantik_contracts.search import Search, SearchResponse, SearchTarget
from semantik_contracts.subjects import SEARCH_RPC, VECTOR_COUNT_RPC, VECTORS, command_subject
from semantik_contracts.work import (
    ActivateGeneration,
    CountVectors,
    CreateGeneration,
    Done,
    SampleChunks,
    SampledChunks,
    VectorCount,
)
from semantik_runtime.bus import Bus

from .application import CollectionsApplication
from .column_sets import COLUMNS_CHANGED
from .domain import Collection, CountDelta
from .operation import Operation

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
Call = Callable[..., Awaitable[Any]]


#: Seconds between two ticks: a reindex whose work is done is validated and activated
#: within this (a staged re-embed's switch waits for it; the tick itself is a scan of the
#: running operations on the writer thread).
TICK_SECONDS = 0.25


class ValidationFailed(Exception):
    """The staging generation is not a faithful copy: the reindex fails."""


def overlap(old: list[UUID], new: list[UUID]) -> float:
    """Share of the documents found in the old generation that the new one also finds."""
    if not old:
        return 1.0
    return len(set(old) & set(new)) / len(set(old))


def _query_of(text: str, words: int = 24) -> str:
    return " ".join(text.split()[:words])


class ReindexFlow:
    def __init__(
        self,
        app: CollectionsApplication,
        bus: Bus,
        call: Call,
        *,
        grace_seconds: float = 300.0,
        min_overlap: float = 0.5,
        samples: int = 5,
        timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.bus = bus
        self.call = call
        self.grace = grace_seconds
        self._retired_since: dict[tuple[UUID, int], float] = {}
        self.min_overlap = min_overlap
        self.samples = samples
        self.timeout = timeout

    async def tick(self) -> None:
        """Validate and activate each reindex whose work is done; drop generations whose
        grace period is over."""
        for operation_id in await self.call(self._waiting):
            try:
                await self.finish(operation_id)
            except RpcFailure as exc:
                log.warning("reindex %s: validation waits (%s)", operation_id, exc)
        for collection_id, generation in await self.call(self._expired):
            await self.call(self._drop_retired, collection_id, generation)

    async def finish(self, operation_id: UUID) -> None:
        op, collection = await self.call(self._load, operation_id)
        staging, old = op.generation, collection.active_generation
        try:
            await self.validate(op, collection)
        except ValidationFailed as exc:
            log.warning("reindex %s failed validation: %s", operation_id, exc)
            await self.call(fail_reindex, self.app, operation_id, f"validation failed: {exc}")
            return
        # A reindex of an empty collection wrote nothing: its generation must exist too.
        dimension = collection.generations[staging].model_dimension
        create = CreateGeneration(
            collection_id=op.collection_id, generation=staging, dimension=dimension
        )
        await self._request(create, Done)
        await self._request(
            ActivateGeneration(collection_id=op.collection_id, generation=staging), Done
        )
        activated = await self.call(activate_reindex, self.app, operation_id)
        if not activated and old is not None:
            # Cancelled meanwhile: the alias goes back to the generation still active.
            await self._request(
                ActivateGeneration(collection_id=op.collection_id, generation=old), Done
            )

    async def validate(self, op: Operation, collection: Collection) -> None:
        """Point count equals the chunks embedded; sampled queries overlap old and new."""
        count = await self.bus.request(
            VECTOR_COUNT_RPC,
            CountVectors(collection_id=op.collection_id, generation=op.generation),
            VectorCount,
            timeout=self.timeout,
        )
        if count.count != op.embedded_chunks:
            raise ValidationFailed(
                f"generation {op.generation} holds {count.count} points; "
                f"{op.embedded_chunks} chunks were embedded"
            )
        old = collection.active_generation
        if old is None or count.count == 0 or op.generation == old:
            return
        if op.params.get(COLUMNS_CHANGED):  # new columns: new documents, other answers
            return
        sampled = await self._request(
            SampleChunks(
                collection_id=op.collection_id, generation=op.generation, limit=self.samples
            ),
            SampledChunks,
        )
        queries = [q for text in sampled.texts if (q := _query_of(text))]
        scores = []
        for query in queries:
            before = await self._documents(query, collection.id, collection.model_name, old)
            after = await self._documents(query, collection.id, op.model_name, op.generation)
            scores.append(overlap(before, after))
        if scores and sum(scores) / len(scores) < self.min_overlap:
            raise ValidationFailed(
                f"sampled queries found {sum(scores) / len(scores):.0%} of the same documents "
                f"in both generations; at least {self.min_overlap:.0%} is required"
            )

    async def _documents(
        self, query: str, collection_id: UUID, model: str, generation: int
    ) -> list[UUID]:
        request = Search(
            query=query,
            targets=[
                SearchTarget(collection_id=collection_id, model_name=model, generation=generation)
            ],
            limit=10,
            search_type=SearchType.HYBRID,
        )
        found = await self.bus.request(SEARCH_RPC, request, SearchResponse, timeout=self.timeout)
        if found.partial:
            error = RpcError(code=ErrorCode.UNAVAILABLE, message="; ".join(found.warnings))
            raise RpcFailure(error)
        return [hit.document_id for hit in found.results]

    async def _request(self, command: BaseModel, result: type[M]) -> M:
        """A command or query to the embedders (the vector store's only writer)."""
        subject = command_subject(VECTORS, type(command).__name__)
        return await self.bus.request(subject, command, result, timeout=self.timeout)

    # -- on the writer thread ----------------------------------------------------------
    def _waiting(self) -> list[UUID]:
        return [
            view.id
            for view in self.app.read_model.active_operations()
            if view.operation_type is OperationType.REINDEX and view.checkpoint == "validation"
        ]

    def _load(self, operation_id: UUID) -> tuple[Operation, Collection]:
        op: Operation = self.app.repository.get(operation_id)
        return op, self.app.repository.get(op.collection_id)

    def _expired(self) -> list[tuple[UUID, int]]:
        """Replaced generations whose grace period is over. It is counted from when this
        process first saw them replaced: a restart makes them wait a little longer."""
        now = time.monotonic()
        retired = {
            (collection.id, generation)
            for collection in list(self.app.read_model.collections.values())
            if not collection.deleted
            for generation in collection.retired_generations
        }
        for key in list(self._retired_since):
            if key not in retired:
                del self._retired_since[key]
        for key in retired:
            self._retired_since.setdefault(key, now)
        return sorted(k for k, since in self._retired_since.items() if now - since >= self.grace)

    def _drop_retired(self, collection_id: UUID, generation: int) -> None:
        """Checkpoint 6: ``GenerationDropped``; the embedder removes the generation."""
        collection: Collection = self.app.repository.get(collection_id)
        if generation in collection.retired_generations:
            collection.drop_generation(generation)
            self.app.commit(collection)


def fail_reindex(app: CollectionsApplication, operation_id: UUID, reason: str) -> None:
    """The reindex fails; its staging generation is dropped with it (domain)."""
    op: Operation = app.repository.get(operation_id)
    if not op.is_terminal:
        app.commit(*app.end_operation(op, OperationStatus.FAILED, reason))


def activate_reindex(app: CollectionsApplication, operation_id: UUID) -> bool:
    """Checkpoint 5, in one commit: the operation completes and the collection activates
    the staging generation (its model and chunking with it). False if it ended first."""
    op: Operation = app.repository.get(operation_id)
    collection: Collection = app.repository.get(op.collection_id)
    if op.is_terminal or collection.active_operation_id != op.id:
        return False
    op.reach_checkpoint("activation", f"generation {op.generation} is active")
    op.complete()
    delta = op.count_delta()
    # The new generation holds every chunk embedded now, not the old ones plus these.
    chunks = op.embedded_chunks - collection.chunk_count
    counts = CountDelta(delta.documents, chunks, delta.size_bytes)
    collection.operation_finished(op.id, OperationStatus.COMPLETED, counts=counts)
    app.commit(op, collection)
    return True
