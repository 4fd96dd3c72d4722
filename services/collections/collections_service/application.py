"""Commands → aggregates → events. Runs on one writer thread (see ``app.py``).

Every command is audited: its entry is saved with its effects, or alone when it is
rejected (``audited``). Queries live in ``read_queries.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from pydantic import BaseModel
from semantik_contracts import (
    CollectionRole,
    ErrorCode,
    OperationStatus,
    OperationType,
    commands,
)
from semantik_contracts.search import DEFAULT_MODEL, ModelInfo
from semantik_contracts.subjects import UPLOAD_SCHEME
from semantik_contracts.views import CollectionView, OperationView, SourceAndOperation
from semantik_runtime.errors import CommandError, forbidden, not_found
from semantik_runtime.snapshots import Snapshotting

from .access import check_grantable
from .audit import ACCEPTED, ACTIONS, REJECTED, audit_entry, audited
from .chunking_settings import chunking
from .column_set_aggregate import ColumnSets
from .column_sets import staged_reembed
from .domain import Collection, Source
from .operation import Operation
from .operation_queue import MAX_QUEUED_OPERATIONS, Admission, queue_position
from .projections import ReadModel, collection_view, operation_view, source_view
from .quota import Quotas
from .read_queries import Queries
from .source_versions import add_version

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


class CollectionsApplication(Snapshotting):
    """The event-sourced core: collections, their sources and operations.

    Its long-lived aggregates are snapshotted (``snapshot_every``, in events; see
    ``semantik_runtime.snapshots``), so loading one after a restart or a cache eviction
    reads its latest snapshot and the few events after it:

    - ``Operation`` every 500: it records an event per work item (``ChunksTallied``,
      ``FailureRecorded``), so an index of n documents has about n events; 500 keeps a
      reload within about 20 ms of events on SQLite while its snapshots, which hold
      every counted key, are written only every 500 documents (further apart past
      8,000 events).
    - ``Collection``, ``Source`` and ``ColumnSets`` every 100: they live as long as the
      collection and gain a few events per operation, sync or saved set, so years of
      use stay a hundred events from a snapshot.
    - ``AuditRecord`` never: it is one event.
    """

    name = "collections"
    snapshot_every = {Operation: 500, Collection: 100, Source: 100, ColumnSets: 100}

    def __init__(
        self,
        env: dict[str, str],
        models: dict[str, ModelInfo] | None = None,
        max_collections_per_user: int = 10,
        quotas: Quotas | None = None,
        find_models: Callable[[], dict[str, ModelInfo]] | None = None,
        max_queued_operations: int = MAX_QUEUED_OPERATIONS,
    ) -> None:
        super().__init__(env={"AGGREGATE_CACHE_MAXSIZE": "2000", **env})
        # The model registry (semantik_runtime.models), read again when a name is
        # unknown, so a model directory added while running is found.
        self.find_models = find_models
        self.models = (
            models
            or (find_models() if find_models else None)
            or {DEFAULT_MODEL.name: DEFAULT_MODEL}
        )
        self.quotas = quotas or Quotas(max_collections_per_user=max_collections_per_user)
        self.read_model = ReadModel(self)
        self.read_model.catch_up()
        self.queries = Queries(self.read_model, self.quotas)
        self.admission = Admission(
            self.quotas, self._model, max_queued_operations, self._find_source
        )
        self.on_saved: Callable[[], None] = lambda: None
        self._command: BaseModel | None = None

    def commit(self, *aggregates: Aggregate) -> None:
        """Save atomically (with the audit entry of the command being run), bring the
        read model up to date, and wake the relay. A collection saved free of its
        running operation starts the head of its queue in the same transaction."""
        aggregates = (*aggregates, *self._advance_queues(aggregates))
        if self._command is not None:
            aggregates = (*aggregates, audit_entry(self._command, ACCEPTED, aggregates))
            self._command = None  # one entry per command
        try:
            recordings = self.save(*aggregates)
        except Exception:
            self.read_model.doubt()  # reconciled by the service's progress flush
            raise
        self.read_model.record(recordings)
        self.on_saved()

    def _advance_queues(self, aggregates: tuple[Aggregate, ...]) -> list[Aggregate]:
        saved = {a.id: a for a in aggregates}

        def load(operation_id: UUID) -> Operation:
            found = saved.get(operation_id)
            if isinstance(found, Operation):
                return found
            operation: Operation = self.repository.get(operation_id)
            return operation

        started: list[Aggregate] = []
        for collection in [a for a in aggregates if isinstance(a, Collection)]:
            started += [op for op in self.admission.advance(collection, load) if op.id not in saved]
        return started

    def record_rejection(self, cmd: BaseModel, error: CommandError) -> None:
        """A refused command is in the audit log too (seeds 002/004). The user still gets
        the typed error if the entry cannot be written (the store is down, say)."""
        if type(cmd) not in ACTIONS:
            return
        try:
            self.commit(audit_entry(cmd, REJECTED, (), error))
        except Exception:
            log.exception("audit entry of a rejected %s not written", type(cmd).__name__)

    # -- lookups with access (SPEC §11) ----------------------------------------------
    def collection_for(
        self, cmd: commands.Actor, collection_id: UUID, needed: CollectionRole
    ) -> Collection:
        """The collection to change: 404 when there is none, 403 when the actor's role on
        it (if any) does not allow ``needed``."""
        self.read_model.collection_for(cmd.actor, cmd.teams, collection_id, needed)
        collection: Collection = self.repository.get(collection_id)
        return collection

    def operation_for(self, cmd: commands.Actor, operation_id: UUID) -> Operation:
        self.read_model.operation_for(cmd.actor, cmd.teams, operation_id, CollectionRole.EDITOR)
        operation: Operation = self.repository.get(operation_id)
        return operation

    def source_for(self, cmd: commands.Actor, collection_id: UUID, source_id: UUID) -> Source:
        self.read_model.collection_for(cmd.actor, cmd.teams, collection_id, CollectionRole.EDITOR)
        found = self.read_model.sources.get(source_id)
        if found is None or found.removed:
            raise not_found("source", source_id)
        if found.collection_id != collection_id:
            other = self.read_model.collections.get(found.collection_id)
            if other is not None and other.owner != cmd.actor:
                raise forbidden("source", source_id)
            raise not_found("source", f"{source_id} in collection {collection_id}")
        source: Source = self.repository.get(source_id)
        return source

    def _find_source(self, source_id: UUID) -> Source | None:
        try:
            source: Source = self.repository.get(source_id)
        except AggregateNotFoundError:
            return None
        return source

    def _model(self, name: str | None) -> ModelInfo:
        if (name or DEFAULT_MODEL.name) not in self.models and self.find_models is not None:
            self.models = self.find_models()
        model = self.models.get(name or DEFAULT_MODEL.name)
        if model is None:
            raise CommandError(
                ErrorCode.INVALID,
                f"unknown model {name!r}; available: {', '.join(sorted(self.models))}",
                available=sorted(self.models),
            )
        return model

    # -- commands ------------------------------------------------------------------
    @audited
    def create_collection(self, cmd: commands.CreateCollection) -> CollectionView:
        model = self._model(cmd.model_name)
        if self.read_model.collection_named(cmd.actor, cmd.name) is not None:
            raise CommandError(ErrorCode.CONFLICT, f"a collection named {cmd.name!r} exists")
        self.quotas.check_new_collection(len(self.read_model.collections_of(cmd.actor)))
        chunk_size, overlap = chunking(model, cmd.chunk_size, cmd.chunk_overlap)
        collection = Collection(
            id=uuid4(),
            name=cmd.name,
            description=cmd.description,
            owner=cmd.actor,
            model_name=model.name,
            model_dimension=model.dimension,
            chunk_size=chunk_size,
            chunk_overlap=overlap,
        )
        collection.activate_generation(collection.open_generation())
        self.commit(collection)
        return collection_view(collection, CollectionRole.OWNER)

    @audited
    def update_collection(self, cmd: commands.UpdateCollection) -> CollectionView:
        collection = self.collection_for(cmd, cmd.collection_id, CollectionRole.OWNER)
        if cmd.name is not None:
            same = self.read_model.collection_named(collection.owner, cmd.name)
            if same is not None and same.id != collection.id:
                raise CommandError(ErrorCode.CONFLICT, f"a collection named {cmd.name!r} exists")
        collection.update(cmd.name, cmd.description)
        self.commit(collection)
        return collection_view(collection, CollectionRole.OWNER)

    @audited
    def delete_collection(self, cmd: commands.DeleteCollection) -> CollectionView:
        """Delete now, as a ``delete`` operation; queued operations and the running one
        are cancelled first. The embedder drops the vectors on ``CollectionDeleted``."""
        collection = self.collection_for(cmd, cmd.collection_id, CollectionRole.OWNER)
        changed: list[Aggregate] = [collection]
        for queued_id in list(collection.queue):
            queued: Operation = self.repository.get(queued_id)
            changed += self.end_operation(
                queued, OperationStatus.CANCELLED, "the collection was deleted", collection
            )[:1]
        if collection.active_operation_id is not None:
            running: Operation = self.repository.get(collection.active_operation_id)
            changed += self.end_operation(
                running, OperationStatus.CANCELLED, "the collection was deleted", collection
            )
        deletion = self.admission.admit(
            collection, uuid4(), OperationType.DELETE, cmd.actor, [], {}
        )
        deletion.start()
        deletion.complete()
        collection.operation_finished(deletion.id, OperationStatus.COMPLETED)
        collection.delete(cmd.actor)
        self.commit(*changed, deletion)
        return collection_view(collection, CollectionRole.OWNER)

    @audited
    def check_new_source(self, cmd: commands.AddSource) -> None:
        """Refuse before ingest resolves (and, for an upload, fetches) anything: the
        actor must be its editor, and an upload must be one of its own uploads
        (``upload://<this collection's id>/…``), never another collection's file."""
        collection = self.collection_for(cmd, cmd.collection_id, CollectionRole.EDITOR)
        own_uploads = f"{UPLOAD_SCHEME}{collection.id}/"
        if cmd.path.startswith(UPLOAD_SCHEME) and not cmd.path.startswith(own_uploads):
            raise CommandError(
                ErrorCode.FORBIDDEN,
                f"{cmd.path} is not an upload of this collection; upload the file to it first",
            )
        if cmd.sync.enabled and cmd.path.startswith(UPLOAD_SCHEME):
            raise CommandError(ErrorCode.INVALID, "an upload has no folder to follow: use a path")

    @audited
    def add_source(
        self, cmd: commands.AddSource, resolved_path: str, kind: str
    ) -> SourceAndOperation:
        collection = self.collection_for(cmd, cmd.collection_id, CollectionRole.EDITOR)
        for existing in self.read_model.sources_of(collection.id):
            if existing.path == resolved_path and cmd.as_version and kind == "upload":
                return add_version(self, cmd, self.repository.get(existing.id), collection)
            if existing.path == resolved_path:
                raise CommandError(
                    ErrorCode.CONFLICT,
                    f"{resolved_path} is already a source of this collection; "
                    "start an index operation to re-scan it",
                    source_id=str(existing.id),
                )
        self.quotas.check_room(collection.name, collection.size_bytes)
        source = Source(
            id=uuid4(),
            collection_id=collection.id,
            kind=kind,
            path=resolved_path,
            text_columns=list(cmd.text_columns),
            context_columns=list(cmd.context_columns),
            id_column=cmd.id_column,
            sync=cmd.sync.model_dump(),
        )
        if cmd.upload_size is not None:
            source.add_version(cmd.upload_size)
        op_type = OperationType.APPEND if collection.indexed_once else OperationType.INDEX
        operation = self.admission.request(
            collection, op_type, cmd.actor, [source.id], {}, given=[source]
        )
        collection.attach_source(source.id)
        self.commit(collection, source, operation)
        return SourceAndOperation(
            source=source_view(source), operation=self._view(operation, collection)
        )

    @audited
    def change_source_columns(self, cmd: commands.ChangeSourceColumns) -> SourceAndOperation:
        """New columns re-embed the source staged (seed 002, SPEC §12): ``staged_reembed``."""
        source = self.source_for(cmd, cmd.collection_id, cmd.source_id)
        collection: Collection = self.repository.get(cmd.collection_id)
        # First: the operation describes the source as changed.
        source.change_columns(list(cmd.text_columns), list(cmd.context_columns), cmd.id_column)
        operation = staged_reembed(self, collection, cmd.actor, [source])
        self.commit(collection, source, operation)
        return SourceAndOperation(
            source=source_view(source), operation=self._view(operation, collection)
        )

    @audited
    def remove_source(self, cmd: commands.RemoveSource) -> SourceAndOperation:
        """Remove a source and, by a ``remove_source`` operation, its documents' points."""

        def remove(source: Source, collection: Collection) -> None:
            source.remove()
            collection.detach_source(source.id)

        return self._source_operation(cmd, OperationType.REMOVE_SOURCE, {}, remove)

    def _source_operation(
        self,
        cmd: commands.RemoveSource,
        op_type: OperationType,
        params: dict[str, Any],
        change: Callable[[Source, Collection], None],
    ) -> SourceAndOperation:
        """An operation on one source of a collection, with the source's change."""
        source = self.source_for(cmd, cmd.collection_id, cmd.source_id)
        collection: Collection = self.repository.get(cmd.collection_id)
        change(source, collection)  # first: the operation describes the source as changed
        operation = self.admission.request(
            collection, op_type, cmd.actor, [source.id], params, given=[source]
        )
        self.commit(collection, source, operation)
        return SourceAndOperation(
            source=source_view(source), operation=self._view(operation, collection)
        )

    @audited
    def start_operation(self, cmd: commands.StartOperation) -> OperationView:
        collection = self.collection_for(cmd, cmd.collection_id, CollectionRole.EDITOR)
        if cmd.operation_type in (OperationType.REINDEX, OperationType.INDEX):
            if cmd.operation_type is OperationType.INDEX:
                self.quotas.check_room(collection.name, collection.size_bytes)
            operation = self.admission.request(
                collection, cmd.operation_type, cmd.actor, list(collection.source_ids), cmd.params
            )
        else:
            raise CommandError(
                ErrorCode.INVALID,
                f"{cmd.operation_type} is started by its own request "
                "(adding, removing a source or deleting the collection), not directly",
            )
        self.commit(collection, operation)
        return self._view(operation, collection)

    @audited
    def cancel_operation(self, cmd: commands.CancelOperation) -> OperationView:
        """Cancel a running operation, or a queued one, which then never starts."""
        operation = self.operation_for(cmd, cmd.operation_id)
        self.commit(
            *self.end_operation(operation, OperationStatus.CANCELLED, f"cancelled by {cmd.actor}")
        )
        return operation_view(operation)

    def _view(self, operation: Operation, collection: Collection) -> OperationView:
        return operation_view(operation, queue_position(collection, operation.id))

    @audited
    def grant_access(self, cmd: commands.GrantAccess) -> CollectionView:
        """Give a user or a team a role (the owner's right); the gateway has checked
        that the principal exists."""
        collection = self.collection_for(cmd, cmd.collection_id, CollectionRole.OWNER)
        check_grantable(collection, cmd.principal_type, cmd.principal_id, cmd.role)
        collection.grant(cmd.principal_type, cmd.principal_id, cmd.role, cmd.actor)
        self.commit(collection)
        return collection_view(collection, CollectionRole.OWNER)

    @audited
    def revoke_access(self, cmd: commands.RevokeAccess) -> CollectionView:
        collection = self.collection_for(cmd, cmd.collection_id, CollectionRole.OWNER)
        if not collection.revoke(cmd.principal_type, cmd.principal_id, cmd.actor):
            raise not_found("grant", f"{cmd.principal_type} {cmd.principal_id}")
        self.commit(collection)
        return collection_view(collection, CollectionRole.OWNER)

    # -- shared by commands and the process manager --------------------------------
    def end_operation(
        self,
        operation: Operation,
        outcome: OperationStatus,
        reason: str,
        collection: Collection | None = None,
    ) -> list[Aggregate]:
        """Cancel or fail an operation. What its work already did is kept: the counts
        of work done so far are applied now, later ones when they land (``settle``).
        A reindex's are not: the collection's counts stay those of the generation that
        serves. A queued operation leaves the queue, never started."""
        was_queued = operation.status is OperationStatus.QUEUED
        if outcome is OperationStatus.CANCELLED:
            operation.cancel(reason)
        else:
            operation.fail(reason)
        collection = collection or self.repository.get(operation.collection_id)
        if was_queued:
            collection.dequeue(operation.id, reason)
            return [operation, collection]
        counts = operation.settle() if operation.all_work_done else None
        if operation.operation_type is OperationType.REINDEX:
            counts = None  # its work went to its staging generation, which is dropped
        collection.operation_finished(
            operation.id, outcome, f"last operation {outcome}: {reason}", counts
        )
        return [operation, collection]
