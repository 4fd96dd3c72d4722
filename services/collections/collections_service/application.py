"""Commands → aggregates → events. Runs on one writer thread (see ``app.py``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from semantik_contracts import ErrorCode, OperationType, commands
from semantik_contracts.search import DEFAULT_MODEL, ModelInfo
from semantik_contracts.views import (
    CollectionView,
    OperationView,
    Page,
    SourceAndOperation,
    SourceView,
)
from semantik_runtime.errors import CommandError, forbidden, not_found

from .domain import Collection, Source
from .operation import Operation
from .projections import ReadModel, collection_view, operation_view, source_view


class CollectionsApplication(Application[UUID]):
    """The event-sourced core: collections, their sources and operations."""

    name = "collections"

    def __init__(
        self,
        env: dict[str, str],
        models: dict[str, ModelInfo] | None = None,
        max_collections_per_user: int = 10,
    ) -> None:
        super().__init__(env={"AGGREGATE_CACHE_MAXSIZE": "2000", **env})
        self.models = models or {DEFAULT_MODEL.name: DEFAULT_MODEL}
        self.max_collections_per_user = max_collections_per_user
        self.read_model = ReadModel(self)
        self.read_model.catch_up()
        self.on_saved: Callable[[], None] = lambda: None

    def commit(self, *aggregates: Aggregate) -> None:
        """Save atomically, bring the read model up to date, and wake the relay."""
        self.save(*aggregates)
        self.read_model.catch_up()
        self.on_saved()

    # -- lookups with ownership ----------------------------------------------------
    def owned_collection(self, actor: str, collection_id: UUID) -> Collection:
        collection = self.read_model.collections.get(collection_id)
        if collection is None or collection.deleted:
            raise not_found("collection", collection_id)
        if collection.owner != actor:
            raise forbidden("collection", collection_id)
        return self.repository.get(collection_id)

    def owned_operation(self, actor: str, operation_id: UUID) -> Operation:
        op = self.read_model.operations.get(operation_id)
        if op is None:
            raise not_found("operation", operation_id)
        collection = self.read_model.collections.get(op.collection_id)
        if collection is None or collection.owner != actor:
            raise forbidden("operation", operation_id)
        return self.repository.get(operation_id)

    # -- commands ------------------------------------------------------------------
    def create_collection(self, cmd: commands.CreateCollection) -> CollectionView:
        model = self.models.get(cmd.model_name or DEFAULT_MODEL.name)
        if model is None:
            raise CommandError(
                ErrorCode.INVALID,
                f"unknown model {cmd.model_name!r}; available: {', '.join(sorted(self.models))}",
                available=sorted(self.models),
            )
        if self.read_model.collection_named(cmd.actor, cmd.name) is not None:
            raise CommandError(ErrorCode.CONFLICT, f"a collection named {cmd.name!r} exists")
        if len(self.read_model.collections_of(cmd.actor)) >= self.max_collections_per_user:
            raise CommandError(
                ErrorCode.QUOTA_EXCEEDED,
                f"quota reached: at most {self.max_collections_per_user} collections per user",
            )
        chunk_size = cmd.chunk_size or model.max_seq_length
        overlap = cmd.chunk_overlap if cmd.chunk_overlap is not None else chunk_size // 10
        if overlap >= chunk_size:
            raise CommandError(ErrorCode.INVALID, "chunk_overlap must be smaller than chunk_size")
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
        return collection_view(collection)

    def update_collection(self, cmd: commands.UpdateCollection) -> CollectionView:
        collection = self.owned_collection(cmd.actor, cmd.collection_id)
        if cmd.name is not None:
            same = self.read_model.collection_named(cmd.actor, cmd.name)
            if same is not None and same.id != collection.id:
                raise CommandError(ErrorCode.CONFLICT, f"a collection named {cmd.name!r} exists")
        collection.update(cmd.name, cmd.description)
        self.commit(collection)
        return collection_view(collection)

    def delete_collection(self, cmd: commands.DeleteCollection) -> CollectionView:
        collection = self.owned_collection(cmd.actor, cmd.collection_id)
        changed: list[Aggregate] = [collection]
        if collection.active_operation_id is not None:
            op: Operation = self.repository.get(collection.active_operation_id)
            if not op.is_terminal:
                op.cancel("the collection was deleted")
                changed.append(op)
        collection.delete(cmd.actor)
        self.commit(*changed)
        return collection_view(collection)

    def add_source(
        self, cmd: commands.AddSource, resolved_path: str, kind: str
    ) -> SourceAndOperation:
        collection = self.owned_collection(cmd.actor, cmd.collection_id)
        for existing in self.read_model.sources_of(collection.id):
            if existing.path == resolved_path:
                raise CommandError(
                    ErrorCode.CONFLICT,
                    f"{resolved_path} is already a source of this collection; "
                    "start an index operation to re-scan it",
                    source_id=str(existing.id),
                )
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

    def start_operation(self, cmd: commands.StartOperation) -> OperationView:
        collection = self.owned_collection(cmd.actor, cmd.collection_id)
        if cmd.operation_type is not OperationType.INDEX:
            raise CommandError(
                ErrorCode.INVALID, f"{cmd.operation_type} cannot be started directly yet"
            )
        operation = self._new_operation(
            collection, cmd.operation_type, cmd.actor, list(collection.source_ids), cmd.params
        )
        self.commit(collection, operation)
        return operation_view(operation)

    def cancel_operation(self, cmd: commands.CancelOperation) -> OperationView:
        operation = self.owned_operation(cmd.actor, cmd.operation_id)
        operation.cancel(f"cancelled by {cmd.actor}")
        collection: Collection = self.repository.get(operation.collection_id)
        collection.operation_finished(operation.id, succeeded=False, reason="operation cancelled")
        self.commit(operation, collection)
        return operation_view(operation)

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
        generation = collection.active_generation or collection.last_generation
        return Operation(
            id=operation_id,
            collection_id=collection.id,
            operation_type=op_type.value,
            params=params,
            requested_by=actor,
            source_ids=source_ids,
            generation=generation,
            model_name=collection.model_name,
            chunk_size=collection.chunk_size,
            chunk_overlap=collection.chunk_overlap,
            requested_at=datetime.now(UTC),
        )

    # -- queries -------------------------------------------------------------------
    def get_collection(self, q: commands.GetCollection) -> CollectionView:
        return collection_view(self.owned_collection(q.actor, q.collection_id))

    def list_collections(self, q: commands.ListCollections) -> Page[CollectionView]:
        found = self.read_model.collections_of(q.actor, q.status)
        items = [collection_view(c) for c in found[q.offset : q.offset + q.limit]]
        return Page[CollectionView](items=items, total=len(found), limit=q.limit, offset=q.offset)

    def get_operation(self, q: commands.GetOperation) -> OperationView:
        return operation_view(self.owned_operation(q.actor, q.operation_id))

    def list_operations(self, q: commands.ListOperations) -> Page[OperationView]:
        if q.collection_id is not None:
            self.owned_collection(q.actor, q.collection_id)
        found = self.read_model.operations_of(q.actor, q.collection_id, q.status)
        items = [operation_view(o) for o in found[q.offset : q.offset + q.limit]]
        return Page[OperationView](items=items, total=len(found), limit=q.limit, offset=q.offset)

    def list_sources(self, q: commands.ListSources) -> list[SourceView]:
        self.owned_collection(q.actor, q.collection_id)
        return [source_view(s) for s in self.read_model.sources_of(q.collection_id)]
