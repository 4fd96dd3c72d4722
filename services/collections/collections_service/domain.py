"""Collection, Operation and Source aggregates (SPEC §3). Pure: no I/O.

Event names are the contract's (the relay publishes them by name). Events whose name
has no contract counterpart (``OperationAttached``…) are bookkeeping kept in the log.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event
from semantik_contracts import CollectionStatus, ErrorCode, OperationType
from semantik_runtime.errors import CommandError

#: Operations that leave an existing collection readable while they run (SPEC §3).
_RUNNING_STATUS = {
    OperationType.INDEX: CollectionStatus.PROCESSING,
    OperationType.APPEND: CollectionStatus.PROCESSING,
    OperationType.REMOVE_SOURCE: CollectionStatus.PROCESSING,
    OperationType.REINDEX: CollectionStatus.REINDEXING,
    OperationType.DELETE: CollectionStatus.DELETING,
}


class Collection(Aggregate):
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
        self.active_generation: int | None = None
        self.staging_generation: int | None = None
        self.last_generation = 0
        self.source_ids: list[UUID] = []
        self.active_operation_id: UUID | None = None
        self.indexed_once = False
        self.document_count = 0
        self.chunk_count = 0
        self.deleted = False

    # -- commands ------------------------------------------------------------------
    def update(self, name: str | None, description: str | None) -> None:
        self._check_alive()
        if name is None and description is None:
            return
        self._updated(
            name=name or self.name,
            description=description if description is not None else self.description,
        )

    def open_generation(self) -> int:
        """Create the next vector generation with the collection's current settings."""
        number = self.last_generation + 1
        self._generation_created(
            generation=number,
            model_name=self.model_name,
            model_dimension=self.model_dimension,
            chunk_size=self.chunk_size,
            chunk_overlap=self.chunk_overlap,
        )
        return number

    def activate_generation(self, generation: int) -> None:
        self._generation_activated(
            generation=generation, previous_generation=self.active_generation
        )

    def attach_source(self, source_id: UUID) -> None:
        self._check_alive()
        self._source_attached(source_id=source_id)

    def detach_source(self, source_id: UUID) -> None:
        if source_id in self.source_ids:
            self._source_detached(source_id=source_id)

    def attach_operation(self, operation_id: UUID, operation_type: OperationType) -> None:
        """Admit one operation at a time (SPEC §3); a second is a 409."""
        self._check_alive()
        if self.active_operation_id is not None:
            raise CommandError(
                ErrorCode.CONFLICT,
                f"collection {self.name!r} already has an active operation",
                active_operation_id=str(self.active_operation_id),
            )
        if operation_type is OperationType.REINDEX and not self.indexed_once:
            raise CommandError(ErrorCode.CONFLICT, "reindex needs a first completed index")
        self._operation_attached(operation_id=operation_id, operation_type=operation_type.value)

    def operation_started(self, operation_type: OperationType) -> None:
        if self.indexed_once or operation_type is OperationType.DELETE:
            self._change_status(_RUNNING_STATUS[operation_type], "")

    def operation_finished(
        self,
        operation_id: UUID,
        succeeded: bool,
        reason: str = "",
        documents_delta: int = 0,
        chunks_delta: int = 0,
    ) -> None:
        if self.active_operation_id != operation_id:
            return
        self._operation_detached(operation_id=operation_id)
        if documents_delta or chunks_delta:
            self._counts_changed(
                document_count=max(0, self.document_count + documents_delta),
                chunk_count=max(0, self.chunk_count + chunks_delta),
            )
        if succeeded:
            self._indexed()
            self._change_status(CollectionStatus.READY, reason)
        elif self.indexed_once:
            self._change_status(CollectionStatus.DEGRADED, reason)
        else:
            self._change_status(CollectionStatus.ERROR, reason)

    def delete(self, deleted_by: str) -> None:
        self._check_alive()
        self._deleted(deleted_by=deleted_by)

    def _check_alive(self) -> None:
        if self.deleted:
            raise CommandError(ErrorCode.NOT_FOUND, f"collection {self.id} was deleted")

    def _change_status(self, status: CollectionStatus, reason: str) -> None:
        if status != self.status or reason != self.status_reason:
            self._status_changed(
                status=status.value, previous_status=self.status.value, reason=reason
            )

    # -- events --------------------------------------------------------------------
    @event("CollectionUpdated")
    def _updated(self, name: str, description: str) -> None:
        self.name = name
        self.description = description

    @event("CollectionStatusChanged")
    def _status_changed(self, status: str, previous_status: str, reason: str) -> None:
        self.status = CollectionStatus(status)
        self.status_reason = reason

    @event("CollectionCountsChanged")
    def _counts_changed(self, document_count: int, chunk_count: int) -> None:
        self.document_count = document_count
        self.chunk_count = chunk_count

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

    @event("GenerationActivated")
    def _generation_activated(self, generation: int, previous_generation: int | None) -> None:
        self.active_generation = generation
        if self.staging_generation == generation:
            self.staging_generation = None

    @event("SourceAttached")
    def _source_attached(self, source_id: UUID) -> None:
        self.source_ids.append(source_id)

    @event("SourceDetached")
    def _source_detached(self, source_id: UUID) -> None:
        self.source_ids.remove(source_id)

    @event("OperationAttached")
    def _operation_attached(self, operation_id: UUID, operation_type: str) -> None:
        self.active_operation_id = operation_id

    @event("OperationDetached")
    def _operation_detached(self, operation_id: UUID) -> None:
        self.active_operation_id = None

    @event("CollectionIndexed")
    def _indexed(self) -> None:
        self.indexed_once = True

    @event("CollectionDeleted")
    def _deleted(self, deleted_by: str) -> None:
        self.deleted = True


class Source(Aggregate):
    @event("SourceAdded")
    def __init__(
        self,
        id: UUID,
        collection_id: UUID,
        kind: str,
        path: str,
        text_columns: list[str],
        context_columns: list[str],
        id_column: str | None,
    ) -> None:
        self.collection_id = collection_id
        self.kind = kind
        self.path = path
        self.text_columns = text_columns
        self.context_columns = context_columns
        self.id_column = id_column
        self.removed = False

    def remove(self) -> None:
        if not self.removed:
            self._removed(collection_id=self.collection_id)

    @event("SourceRemoved")
    def _removed(self, collection_id: UUID) -> None:
        self.removed = True
