"""Commands → aggregates → events. Runs on one writer thread (see ``app.py``).

Every command is audited: its entry is saved with its effects, or alone when it is
rejected (``audited``). Queries live in ``read_queries.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import Application
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

from .access import check_grantable
from .audit import ACCEPTED, ACTIONS, REJECTED, audit_entry, audited
from .chunking_settings import chunking, reindex_params
from .domain import Collection, Source
from .operation import Operation
from .projections import ReadModel, collection_view, operation_view, source_view
from .quota import Quotas
from .read_queries import Queries

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


class CollectionsApplication(Application[UUID]):
    """The event-sourced core: collections, their sources and operations."""

    name = "collections"

    def __init__(
        self,
        env: dict[str, str],
        models: dict[str, ModelInfo] | None = None,
        max_collections_per_user: int = 10,
        quotas: Quotas | None = None,
        find_models: Callable[[], dict[str, ModelInfo]] | None = None,
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
        self.on_saved: Callable[[], None] = lambda: None
        self._command: BaseModel | None = None

    def commit(self, *aggregates: Aggregate) -> None:
        """Save atomically (with the audit entry of the command being run), bring the
        read model up to date, and wake the relay."""
        if self._command is not None:
            aggregates = (*aggregates, audit_entry(self._command, ACCEPTED, aggregates))
            self._command = None  # one entry per command
        self.read_model.record(self.save(*aggregates))
        self.on_saved()

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
        """Delete now, as a ``delete`` operation; a running operation is cancelled first.
        The embedder drops the vectors when it sees ``CollectionDeleted``."""
        collection = self.collection_for(cmd, cmd.collection_id, CollectionRole.OWNER)
        changed: list[Aggregate] = [collection]
        if collection.active_operation_id is not None:
            running: Operation = self.repository.get(collection.active_operation_id)
            changed += self.end_operation(
                running, OperationStatus.CANCELLED, "the collection was deleted", collection
            )
        deletion = self._new_operation(collection, OperationType.DELETE, cmd.actor, [], {})
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

    @audited
    def add_source(
        self, cmd: commands.AddSource, resolved_path: str, kind: str
    ) -> SourceAndOperation:
        collection = self.collection_for(cmd, cmd.collection_id, CollectionRole.EDITOR)
        for existing in self.read_model.sources_of(collection.id):
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
        )
        op_type = OperationType.APPEND if collection.indexed_once else OperationType.INDEX
        operation = self._new_operation(collection, op_type, cmd.actor, [source.id], {})
        collection.attach_source(source.id)
        self.commit(collection, source, operation)
        return SourceAndOperation(source=source_view(source), operation=operation_view(operation))

    @audited
    def change_source_columns(self, cmd: commands.ChangeSourceColumns) -> SourceAndOperation:
        """New columns re-embed the source (an ``index`` of it alone, seed 002)."""

        def change(source: Source, _: Collection) -> None:
            source.change_columns(list(cmd.text_columns), list(cmd.context_columns), cmd.id_column)

        params = {"columns_changed": True}
        return self._source_operation(cmd, OperationType.INDEX, params, change)

    @audited
    def remove_source(self, cmd: commands.RemoveSource) -> SourceAndOperation:
        """Remove a source and, by a ``remove_source`` operation, its documents' points."""

        def remove(source: Source, collection: Collection) -> None:
            source.remove()
            collection.detach_source(source.id)

        return self._source_operation(cmd, OperationType.REMOVE_SOURCE, {}, remove)

    def _source_operation(
        self,
        cmd: commands.ChangeSourceColumns | commands.RemoveSource,
        op_type: OperationType,
        params: dict[str, Any],
        change: Callable[[Source, Collection], None],
    ) -> SourceAndOperation:
        """An operation on one source of a collection, with the source's change."""
        source = self.source_for(cmd, cmd.collection_id, cmd.source_id)
        collection: Collection = self.repository.get(cmd.collection_id)
        operation = self._new_operation(collection, op_type, cmd.actor, [source.id], params)
        change(source, collection)
        self.commit(collection, source, operation)
        return SourceAndOperation(source=source_view(source), operation=operation_view(operation))

    @audited
    def start_operation(self, cmd: commands.StartOperation) -> OperationView:
        collection = self.collection_for(cmd, cmd.collection_id, CollectionRole.EDITOR)
        if cmd.operation_type is OperationType.REINDEX:
            operation = self._new_reindex(collection, cmd)
        elif cmd.operation_type is OperationType.INDEX:
            self.quotas.check_room(collection.name, collection.size_bytes)
            operation = self._new_operation(
                collection, cmd.operation_type, cmd.actor, list(collection.source_ids), {}
            )
        else:
            raise CommandError(
                ErrorCode.INVALID,
                f"{cmd.operation_type} is started by its own request "
                "(adding, removing a source or deleting the collection), not directly",
            )
        self.commit(collection, operation)
        return operation_view(operation)

    @audited
    def cancel_operation(self, cmd: commands.CancelOperation) -> OperationView:
        operation = self.operation_for(cmd, cmd.operation_id)
        self.commit(
            *self.end_operation(operation, OperationStatus.CANCELLED, f"cancelled by {cmd.actor}")
        )
        return operation_view(operation)

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
        serves."""
        if outcome is OperationStatus.CANCELLED:
            operation.cancel(reason)
        else:
            operation.fail(reason)
        collection = collection or self.repository.get(operation.collection_id)
        counts = operation.settle() if operation.all_work_done else None
        if operation.operation_type is OperationType.REINDEX:
            counts = None  # its work went to its staging generation, which is dropped
        collection.operation_finished(
            operation.id, outcome, f"last operation {outcome}: {reason}", counts
        )
        return [operation, collection]

    def _new_reindex(self, collection: Collection, cmd: commands.StartOperation) -> Operation:
        """Preflight of a blue-green reindex (model, chunking, room), then the staging
        generation the operation writes to; activation happens when it completes."""
        name, size, overlap = reindex_params(cmd.params)
        model = self._model(name or collection.model_name)
        if model.name == collection.model_name and size is None:
            size = collection.chunk_size
            overlap = collection.chunk_overlap if overlap is None else overlap
        chunk_size, overlap = chunking(model, size, overlap)
        self.quotas.check_reindex_reservation(collection.name, collection.size_bytes)
        operation_id = uuid4()
        collection.attach_operation(operation_id, OperationType.REINDEX)
        staging = collection.open_generation(model.name, model.dimension, chunk_size, overlap)
        return self._operation(
            operation_id,
            collection,
            OperationType.REINDEX,
            cmd.actor,
            cmd.params,
            staging,
            list(collection.source_ids),
        )

    def _new_operation(
        self,
        collection: Collection,
        op_type: OperationType,
        actor: str,
        source_ids: list[UUID],
        params: dict[str, Any],
    ) -> Operation:
        operation_id = uuid4()
        collection.attach_operation(operation_id, op_type)
        generation = collection.active_generation or 1
        return self._operation(
            operation_id, collection, op_type, actor, params, generation, source_ids
        )

    def _operation(
        self,
        operation_id: UUID,
        collection: Collection,
        op_type: OperationType,
        actor: str,
        params: dict[str, Any],
        generation: int,
        source_ids: list[UUID],
    ) -> Operation:
        settings = collection.generations.get(generation)
        return Operation(
            id=operation_id,
            collection_id=collection.id,
            operation_type=op_type.value,
            params=params,
            requested_by=actor,
            source_ids=source_ids,
            generation=generation,
            model_name=settings.model_name if settings else collection.model_name,
            chunk_size=settings.chunk_size if settings else collection.chunk_size,
            chunk_overlap=settings.chunk_overlap if settings else collection.chunk_overlap,
            requested_at=datetime.now(UTC),
        )
