"""Operations wait in their collection's queue (SPEC §12). Pure: no I/O.

A collection runs one operation at a time. A new one on a free collection starts at
once (``OperationRequested``); on a busy one it is created queued (``OperationQueued``)
and the collection records its place (``QueueEntryAdded``). When the running one ends,
completed, failed or cancelled, the queue's head starts in the same transaction
(``CollectionsApplication.commit`` calls ``advance``): a process killed at any point
either ended the operation and started the next, or did neither, so no queued operation
is lost or started twice. What a queued operation runs with (generation, model,
chunking) is decided when it starts, since the operations before it may change them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from semantik_contracts import OperationType
from semantik_contracts.search import ModelInfo
from semantik_runtime.errors import CommandError

from .chunking_settings import chunking, reindex_params
from .domain import Collection, Source
from .operation import Operation
from .operation_sources import FindSource, operation_sources
from .quota import Quotas
from .status import IllegalTransition

#: The most operations that may wait in one collection's queue, by default.
MAX_QUEUED_OPERATIONS = 20


def queue_position(collection: Collection | None, operation_id: UUID) -> int | None:
    """Where a queued operation waits (1 = next), None when it does not wait."""
    if collection is None or operation_id not in collection.queue:
        return None
    return collection.queue.index(operation_id) + 1


class Admission:
    """Builds operations: started at once on a free collection, queued on a busy one."""

    def __init__(
        self,
        quotas: Quotas,
        model: Callable[[str | None], ModelInfo],
        max_queued: int = MAX_QUEUED_OPERATIONS,
        find_source: FindSource = lambda _: None,
    ) -> None:
        self.quotas = quotas
        self.model = model
        self.max_queued = max_queued
        self.find_source = find_source

    def request(
        self,
        collection: Collection,
        op_type: OperationType,
        actor: str,
        source_ids: list[UUID],
        params: dict[str, Any],
        given: Sequence[Source] = (),
    ) -> Operation:
        """A new operation; a reindex's settings are checked now even when it waits.
        ``given``: sources the command creates or changes (not saved yet)."""
        if op_type is OperationType.REINDEX:
            if not collection.indexed_once:
                raise IllegalTransition(
                    f"reindex of collection {collection.name!r} needs a first completed index"
                )
            self._reindex_settings(collection, params)
        if collection.active_operation_id is None and not collection.queue:
            return self.admit(collection, uuid4(), op_type, actor, source_ids, params, given=given)
        waiting = len(collection.queue)
        if waiting >= self.max_queued:
            raise IllegalTransition(
                f"collection {collection.name!r} already has {waiting} queued operations, "
                f"the most SEMANTIK_MAX_QUEUED_OPERATIONS ({self.max_queued}) allows; "
                "wait for one to finish or cancel one",
                queued=waiting,
                limit=self.max_queued,
            )
        operation_id = uuid4()
        collection.enqueue(operation_id)
        return Operation.queued(
            id=operation_id,
            collection_id=collection.id,
            operation_type=op_type.value,
            params=params,
            requested_by=actor,
            source_ids=source_ids,
            queue_position=waiting + 1,
        )

    def admit(
        self,
        collection: Collection,
        operation_id: UUID,
        op_type: OperationType,
        actor: str,
        source_ids: list[UUID],
        params: dict[str, Any],
        queued: Operation | None = None,
        given: Sequence[Source] = (),
    ) -> Operation:
        """Start an operation now: attached to the collection, with the generation it
        writes to (a reindex opens its staging generation), requested from ingest."""
        if op_type is OperationType.REINDEX:
            model, chunk_size, overlap = self._reindex_settings(collection, params)
            self.quotas.check_reindex_reservation(collection.name, collection.size_bytes)
            collection.attach_operation(operation_id, op_type)
            generation = collection.open_generation(
                model.name, model.dimension, chunk_size, overlap
            )
        else:
            collection.attach_operation(operation_id, op_type)
            generation = collection.active_generation or 1
        settings = collection.generations.get(generation)
        request: dict[str, Any] = {
            "generation": generation,
            "model_name": settings.model_name if settings else collection.model_name,
            "chunk_size": settings.chunk_size if settings else collection.chunk_size,
            "chunk_overlap": settings.chunk_overlap if settings else collection.chunk_overlap,
            "sources": operation_sources(collection, op_type, source_ids, self.find_source, given),
        }
        if queued is not None:
            queued.request(**request)
            return queued
        return Operation(
            id=operation_id,
            collection_id=collection.id,
            operation_type=op_type.value,
            params=params,
            requested_by=actor,
            source_ids=source_ids,
            requested_at=datetime.now(UTC),
            **request,
        )

    def advance(self, collection: Collection, load: Callable[[UUID], Operation]) -> list[Aggregate]:
        """Start the head of a free collection's queue. A head that cannot start now (a
        reindex that no longer fits the size limit, say) fails with the reason and
        the next one is tried. Safe to call at any time: a busy collection, an empty
        queue or a deleted collection changes nothing."""
        changed: list[Aggregate] = []
        while collection.active_operation_id is None and collection.queue:
            if collection.deleted:
                break
            head = load(collection.queue[0])
            try:
                self.admit(
                    collection,
                    head.id,
                    head.operation_type,
                    head.requested_by,
                    list(head.source_ids),
                    dict(head.params),
                    queued=head,
                )
            except CommandError as exc:
                reason = f"could not start: {exc.message}"
                head.fail(reason)
                collection.dequeue(head.id, reason)
            changed.append(head)
        return changed

    def _reindex_settings(
        self, collection: Collection, params: dict[str, Any]
    ) -> tuple[ModelInfo, int, int]:
        """The model and chunking a blue-green reindex builds its generation with."""
        name, size, overlap = reindex_params(params)
        model = self.model(name or collection.model_name)
        if model.name == collection.model_name and size is None:
            size = collection.chunk_size
            overlap = collection.chunk_overlap if overlap is None else overlap
        chunk_size, chunk_overlap = chunking(model, size, overlap)
        return model, chunk_size, chunk_overlap
