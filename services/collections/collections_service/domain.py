"""Collection, Operation and Source aggregates (SPEC §3). Pure: no I/O.

Event names are the contract's (the relay publishes them by name). Events whose name
has no contract counterpart (``OperationAttached``…) are bookkeeping kept in the log.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from semantik_contracts import CollectionStatus, ErrorCode, OperationStatus, OperationType
from semantik_runtime.errors import CommandError

from .source import Source as Source
from .status import (
    IllegalTransition,
    check_admission,
    check_collection_transition,
    finished_status,
    running_status,
)
from .values import CountDelta as CountDelta
from .values import GenerationSettings


class Collection(Aggregate):
    #: v2 added ``precisions``: a snapshot (or stored read model row) of v1 has none.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["precisions"] = {}

    class CollectionCountsChanged(Aggregate.Event):
        """v2 added ``size_bytes`` (the collection size quota); v1 events count 0 bytes,
        the size of what they describe being unknown to the log."""

        class_version = 2
        document_count: int
        chunk_count: int
        size_bytes: int

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["size_bytes"] = 0

    @event("CollectionCreated")
    def __init__(
        self,
        id: UUID,
        name: str,
        description: str,
        owner: str,
        model_name: str,
        model_dimension: int,
        chunk_size: int,
        chunk_overlap: int,
    ) -> None:
        self.name = name
        self.description = description
        self.owner = owner
        self.model_name = model_name
        self.model_dimension = model_dimension
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.status = CollectionStatus.PENDING
        self.status_reason = ""
        #: The status to return to when the running operation is cancelled.
        self.resting_status = CollectionStatus.PENDING
        self.active_generation: int | None = None
        self.staging_generation: int | None = None
        self.last_generation = 0
        self.generations: dict[int, GenerationSettings] = {}
        #: Generation → the encoder precisions its vectors were made with (fp32, int8, …).
        self.precisions: dict[int, list[str]] = {}
        self.source_ids: list[UUID] = []
        self.active_operation_id: UUID | None = None
        self.active_operation_type: OperationType | None = None
        #: Operations waiting for the running one, first is next (SPEC §12, queue.py).
        self.queue: list[UUID] = []
        self.indexed_once = False
        self.document_count = 0
        self.chunk_count = 0
        self.size_bytes = 0
        self.deleted = False
        #: "user:<id>" or "team:<id>" → the role granted (SPEC §11); the owner is apart.
        self.grants: dict[str, str] = {}

    # -- commands ------------------------------------------------------------------
    def update(self, name: str | None, description: str | None) -> None:
        self._check_alive()
        if name is None and description is None:
            return
        self._updated(
            name=name or self.name,
            description=description if description is not None else self.description,
        )

    def open_generation(
        self,
        model_name: str | None = None,
        model_dimension: int | None = None,
        chunk_size: int | None = None,
        chunk_overlap: int | None = None,
    ) -> int:
        """Create the next vector generation (staging until activated); its settings
        default to the collection's current ones."""
        self._check_alive()
        if self.staging_generation is not None:
            raise IllegalTransition(
                f"collection {self.name!r} already has staging generation "
                f"{self.staging_generation}",
                staging_generation=self.staging_generation,
            )
        number = self.last_generation + 1
        self._generation_created(
            generation=number,
            model_name=model_name or self.model_name,
            model_dimension=model_dimension or self.model_dimension,
            chunk_size=chunk_size or self.chunk_size,
            chunk_overlap=self.chunk_overlap if chunk_overlap is None else chunk_overlap,
        )
        return number

    def activate_generation(self, generation: int) -> None:
        """Make ``generation`` the one search reads (atomic: one event). The collection
        takes on its model and chunking; the previous one waits to be dropped."""
        if generation != self.staging_generation:
            raise IllegalTransition(
                f"generation {generation} of collection {self.name!r} is not staging",
                staging_generation=self.staging_generation,
            )
        self._generation_activated(
            generation=generation, previous_generation=self.active_generation
        )

    def drop_generation(self, generation: int) -> None:
        """Record that a generation's vectors are gone (never the active one)."""
        if generation == self.active_generation:
            raise IllegalTransition(
                f"generation {generation} is active in collection {self.name!r}; "
                "activate another before dropping it"
            )
        if generation in self.generations:
            self._generation_dropped(generation=generation)

    def attach_source(self, source_id: UUID) -> None:
        self._check_alive()
        self._source_attached(source_id=source_id)

    def detach_source(self, source_id: UUID) -> None:
        if source_id in self.source_ids:
            self._source_detached(source_id=source_id)

    def enqueue(self, operation_id: UUID) -> None:
        self._check_alive()
        self._queue_entry_added(operation_id=operation_id)

    def dequeue(self, operation_id: UUID, reason: str) -> None:
        """Take a queued operation out without starting it (cancelled or unstartable)."""
        if operation_id in self.queue:
            self._queue_entry_removed(operation_id=operation_id, reason=reason)

    def attach_operation(self, operation_id: UUID, operation_type: OperationType) -> None:
        """Admit one operation at a time (SPEC §3): the others wait in the queue."""
        self._check_alive()
        if self.active_operation_id is not None:
            running = self.active_operation_type or "another operation"
            raise IllegalTransition(
                f"collection {self.name!r} already has an active operation ({running}); "
                "wait for it to finish or cancel it",
                active_operation_id=str(self.active_operation_id),
            )
        if operation_type is OperationType.REINDEX and not self.indexed_once:
            raise IllegalTransition(
                f"reindex of collection {self.name!r} needs a first completed index"
            )
        check_admission(self.name, self.status, operation_type)
        self._operation_attached(operation_id=operation_id, operation_type=operation_type.value)

    def operation_started(self, operation_type: OperationType) -> None:
        if operation_type is not OperationType.DELETE:
            self._change_status(running_status(operation_type, self.indexed_once), "")

    def operation_finished(
        self,
        operation_id: UUID,
        outcome: OperationStatus,
        reason: str = "",
        counts: CountDelta | None = None,
    ) -> None:
        """The attached operation ended: counts, generations and status follow."""
        if self.active_operation_id != operation_id:
            return
        finished_type = self.active_operation_type
        reindex = finished_type is OperationType.REINDEX
        resting = self.resting_status
        self._operation_detached(operation_id=operation_id)
        if finished_type is OperationType.DELETE:
            return  # the collection goes with it (``delete``)
        if counts is not None:
            self.apply_counts(counts)
        if reindex and self.staging_generation is not None:
            if outcome is OperationStatus.COMPLETED:
                self.activate_generation(self.staging_generation)
            else:  # the old generation keeps serving; the staging one goes
                self.drop_generation(self.staging_generation)
        if outcome is OperationStatus.COMPLETED and not self.indexed_once and not reindex:
            self._indexed()
        self._change_status(finished_status(outcome, self.indexed_once, resting), reason)

    def apply_counts(self, counts: CountDelta) -> None:
        if counts.documents or counts.chunks or counts.size_bytes:
            self._counts_changed(
                document_count=max(0, self.document_count + counts.documents),
                chunk_count=max(0, self.chunk_count + counts.chunks),
                size_bytes=max(0, self.size_bytes + counts.size_bytes),
            )

    def delete(self, deleted_by: str) -> None:
        self._check_alive()
        self._deleted(deleted_by=deleted_by)

    def _check_alive(self) -> None:
        if self.deleted:
            raise CommandError(ErrorCode.NOT_FOUND, f"collection {self.id} was deleted")

    def _change_status(self, status: CollectionStatus, reason: str) -> None:
        check_collection_transition(self.status, status)
        if status != self.status or reason != self.status_reason:
            self._status_changed(
                status=status.value, previous_status=self.status.value, reason=reason
            )

    # -- events --------------------------------------------------------------------
    def grant(self, principal_type: str, principal_id: str, role: str, granted_by: str) -> None:
        self._check_alive()
        if self.grants.get(f"{principal_type}:{principal_id}") != role:
            self._access_granted(principal_type, principal_id, role, granted_by)

    def revoke(self, principal_type: str, principal_id: str, revoked_by: str) -> bool:
        """Take a grant back; False when there was none."""
        self._check_alive()
        if f"{principal_type}:{principal_id}" not in self.grants:
            return False
        self._access_revoked(principal_type, principal_id, revoked_by)
        return True

    @event("AccessGranted")
    def _access_granted(
        self, principal_type: str, principal_id: str, role: str, granted_by: str
    ) -> None:
        self.grants[f"{principal_type}:{principal_id}"] = role

    @event("AccessRevoked")
    def _access_revoked(self, principal_type: str, principal_id: str, revoked_by: str) -> None:
        self.grants.pop(f"{principal_type}:{principal_id}", None)

    @event("CollectionUpdated")
    def _updated(self, name: str, description: str) -> None:
        self.name = name
        self.description = description

    @event("CollectionStatusChanged")
    def _status_changed(self, status: str, previous_status: str, reason: str) -> None:
        self.status = CollectionStatus(status)
        self.status_reason = reason

    @event(CollectionCountsChanged)
    def _counts_changed(self, document_count: int, chunk_count: int, size_bytes: int) -> None:
        self.document_count = document_count
        self.chunk_count = chunk_count
        self.size_bytes = size_bytes

    @event("GenerationCreated")
    def _generation_created(
        self,
        generation: int,
        model_name: str,
        model_dimension: int,
        chunk_size: int,
        chunk_overlap: int,
    ) -> None:
        self.last_generation = generation
        self.staging_generation = generation
        self.generations[generation] = GenerationSettings(
            model_name, model_dimension, chunk_size, chunk_overlap
        )

    @event("GenerationActivated")
    def _generation_activated(self, generation: int, previous_generation: int | None) -> None:
        self.active_generation = generation
        if self.staging_generation == generation:
            self.staging_generation = None
        settings = self.generations.get(generation)
        if settings is not None:  # the collection now searches with these settings
            self.model_name, self.model_dimension = settings.model_name, settings.model_dimension
            self.chunk_size, self.chunk_overlap = settings.chunk_size, settings.chunk_overlap

    @event("GenerationDropped")
    def _generation_dropped(self, generation: int) -> None:
        self.generations.pop(generation, None)
        self.precisions.pop(generation, None)
        if self.staging_generation == generation:
            self.staging_generation = None

    def record_precision(self, generation: int, precision: str) -> None:
        """Vectors of ``generation`` were encoded at ``precision`` (once per new one)."""
        if generation in self.generations and precision not in self.precisions.get(generation, []):
            self._precision_recorded(generation=generation, precision=precision)

    def precision_of(self, generation: int | None) -> str | None:
        """The precisions of a generation's vectors, "+"-joined; None before any."""
        made = self.precisions.get(generation) if generation is not None else None
        return "+".join(made) if made else None

    @event("VectorPrecisionRecorded")
    def _precision_recorded(self, generation: int, precision: str) -> None:
        self.precisions[generation] = sorted({*self.precisions.get(generation, []), precision})

    @event("SourceAttached")
    def _source_attached(self, source_id: UUID) -> None:
        self.source_ids.append(source_id)

    @event("SourceDetached")
    def _source_detached(self, source_id: UUID) -> None:
        self.source_ids.remove(source_id)

    @event("OperationAttached")
    def _operation_attached(self, operation_id: UUID, operation_type: str) -> None:
        self.active_operation_id = operation_id
        self.active_operation_type = OperationType(operation_type)
        self.resting_status = self.status
        if operation_id in self.queue:  # the queue's head starts
            self.queue.remove(operation_id)

    @event("QueueEntryAdded")
    def _queue_entry_added(self, operation_id: UUID) -> None:
        self.queue.append(operation_id)

    @event("QueueEntryRemoved")
    def _queue_entry_removed(self, operation_id: UUID, reason: str) -> None:
        self.queue.remove(operation_id)

    @event("OperationDetached")
    def _operation_detached(self, operation_id: UUID) -> None:
        self.active_operation_id = None
        self.active_operation_type = None

    @event("CollectionIndexed")
    def _indexed(self) -> None:
        self.indexed_once = True

    @event("CollectionDeleted")
    def _deleted(self, deleted_by: str) -> None:
        self.deleted = True

    @property
    def retired_generations(self) -> list[int]:
        """Generations neither active nor staging whose vectors are not dropped yet."""
        keep = {self.active_generation, self.staging_generation}
        return sorted(g for g in self.generations if g not in keep)
