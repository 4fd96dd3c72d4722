"""Read models: the log folded into queryable views (SPEC §3).

The projection keeps its own copies of the aggregates, mutated by each event of the
notification log in order, plus the indexes that queries need. Dropping it and folding
the log again gives the same answers: it holds nothing the log does not.
"""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar
from uuid import UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from semantik_contracts import CollectionRole, CollectionStatus, OperationStatus
from semantik_contracts.views import (
    AuditEntry,
    CollectionView,
    Failure,
    OperationView,
    SourceVersion,
    SourceView,
)
from semantik_runtime.errors import forbidden, not_found
from semantik_runtime.folding import FoldedLog
from semantik_runtime.read_store import JournalQuery

from .access import lacking, role_of
from .audit import AuditRecord
from .column_set_aggregate import ColumnSets
from .domain import Collection, Source
from .operation import Operation
from .operation_queue import queue_position

T = TypeVar("T")

#: Operation outcomes the audit log shows as done by the system.
_SYSTEM_OUTCOMES = {"OperationCompleted": "completed", "OperationFailed": "failed"}


class ReadModel(FoldedLog):
    """Each aggregate's latest state by id, stored as its row; the audit log in the
    store's journal, read a page at a time."""

    stored_as = "collections-v1"
    tables = ("collections", "operations", "sources", "column_sets")

    def __init__(self, app: Application[UUID]) -> None:
        self.collections: dict[UUID, Collection] = {}
        self.operations: dict[UUID, Operation] = {}
        self.sources: dict[UUID, Source] = {}
        self.column_sets: dict[UUID, ColumnSets] = {}  # by column_sets_id(collection)
        super().__init__(app)

    def _clear(self) -> None:
        self.collections.clear()
        self.operations.clear()
        self.sources.clear()
        self.column_sets.clear()

    @property
    def audit(self) -> list[AuditEntry]:
        """The whole audit log, oldest first."""
        return self.journal(AuditEntry.model_validate)

    def _apply(self, domain_event: Any) -> None:
        originator = domain_event.originator_id
        current: Aggregate | None = (
            self.collections.get(originator)
            or self.operations.get(originator)
            or self.sources.get(originator)
            or self.column_sets.get(originator)
        )
        aggregate = domain_event.mutate(current)
        if isinstance(aggregate, Collection):
            self.collections[originator] = aggregate
            self._touch("collections", originator)
        elif isinstance(aggregate, Operation):
            if aggregate.settled and aggregate.counted:
                # Its work ids only keep it from counting a work item twice, which the
                # aggregate itself does: a settled operation counts nothing more, so
                # the read model (and its stored row) does not keep one id per item.
                aggregate.counted = set()
            self.operations[originator] = aggregate
            self._touch("operations", originator)
            outcome = _SYSTEM_OUTCOMES.get(type(domain_event).__name__)
            if outcome is not None:
                self._audit(system_entry(aggregate, outcome, domain_event.originator_version))
        elif isinstance(aggregate, Source):
            self.sources[originator] = aggregate
            self._touch("sources", originator)
        elif isinstance(aggregate, AuditRecord):
            self._audit(audit_entry(aggregate))
        elif isinstance(aggregate, ColumnSets):
            self.column_sets[originator] = aggregate
            self._touch("column_sets", originator)

    def _audit(self, entry: AuditEntry) -> None:
        self._note(entry.actor, entry.collection_id, entry.outcome, entry.model_dump(mode="json"))

    def digest(self) -> str:
        """A fingerprint of every answer the read models give (equal models, equal digest)."""
        views: list[Any] = [
            *sorted((collection_view(c) for c in self.collections.values()), key=_by_id),
            *sorted((self.operation_view(o) for o in self.operations.values()), key=_by_id),
            *sorted((source_view(s) for s in self.sources.values()), key=_by_id),
            *self.audit,
        ]
        hashed = hashlib.sha256()
        for view in views:
            hashed.update(view.model_dump_json().encode())
        return hashed.hexdigest()

    # -- access (SPEC §7, §11: unknown id → 404, not shared or role lacking → 403) -----
    def collection_for(
        self,
        actor: str,
        teams: list[str],
        collection_id: UUID,
        needed: CollectionRole = CollectionRole.VIEWER,
    ) -> tuple[Collection, CollectionRole]:
        """The collection and the actor's role on it, if that role allows ``needed``."""
        collection = self._found(self.collections, collection_id)
        if collection is None or collection.deleted:
            raise not_found("collection", collection_id)
        role = role_of(collection, actor, teams)
        if role is None:
            raise forbidden("collection", collection_id)
        if not role.allows(needed):
            raise lacking(collection, role, needed)
        return collection, role

    def operation_for(
        self,
        actor: str,
        teams: list[str],
        operation_id: UUID,
        needed: CollectionRole = CollectionRole.VIEWER,
    ) -> Operation:
        operation = self._found(self.operations, operation_id)
        if operation is None:
            raise not_found("operation", operation_id)
        collection = self.collections.get(operation.collection_id)
        role = None if collection is None else role_of(collection, actor, teams)
        if collection is None or role is None:
            raise forbidden("operation", operation_id)
        if not role.allows(needed):
            raise lacking(collection, role, needed)
        return operation

    def _found(self, held: dict[UUID, T], key: UUID) -> T | None:
        """``held[key]``, catching up with the log first if it is missing: another
        replica may have made it since this one last folded (read your writes through
        any replica; an unknown id costs one read of the log's tail)."""
        found = held.get(key)
        if found is None:
            self.catch_up()
            found = held.get(key)
        return found

    # -- queries -------------------------------------------------------------------
    def collections_of(self, owner: str, status: str | None = None) -> list[Collection]:
        """The collections ``owner`` owns (quotas and names are per owner)."""
        found = [
            c
            for c in self.collections.values()
            if c.owner == owner and not c.deleted and (status is None or c.status == status)
        ]
        return sorted(found, key=lambda c: c.created_on)

    def readable(
        self, actor: str, teams: list[str], status: str | None = None, deleted: bool = False
    ) -> list[tuple[Collection, CollectionRole]]:
        """Every collection the actor may read, owned or shared, oldest first (with
        ``deleted``, the deleted ones too: their operations stay listed)."""
        found = []
        for c in self.collections.values():
            if (c.deleted and not deleted) or (status is not None and c.status != status):
                continue
            role = role_of(c, actor, teams)
            if role is not None:
                found.append((c, role))
        return sorted(found, key=lambda pair: pair[0].created_on)

    def collection_named(self, owner: str, name: str) -> Collection | None:
        lowered = name.casefold()
        return next((c for c in self.collections_of(owner) if c.name.casefold() == lowered), None)

    def operations_of(
        self,
        collection_ids: set[UUID],
        collection_id: UUID | None = None,
        status: str | None = None,
    ) -> list[Operation]:
        """Operations of ``collection_ids`` (those the asker may read), newest first."""
        found = []
        for op in self.operations.values():
            if op.collection_id not in collection_ids:
                continue
            if collection_id is not None and op.collection_id != collection_id:
                continue
            if status is not None and op.status != status:
                continue
            found.append(op)
        return sorted(found, key=lambda o: o.created_on, reverse=True)

    def active_operations(self) -> list[Operation]:
        """Operations that run: neither ended nor waiting in a queue."""
        return [
            op
            for op in self.operations.values()
            if not op.is_terminal and op.status is not OperationStatus.QUEUED
        ]

    def operation_view(self, op: Operation) -> OperationView:
        """The operation's view, with its place in the queue while it waits."""
        return operation_view(op, queue_position(self.collections.get(op.collection_id), op.id))

    def sources_of(self, collection_id: UUID) -> list[Source]:
        found = [
            s for s in self.sources.values() if s.collection_id == collection_id and not s.removed
        ]
        return sorted(found, key=lambda s: s.created_on)

    def audit_of(
        self,
        actor: str,
        teams: list[str],
        outcome: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[int, list[AuditEntry]]:
        """Newest first: the actor's own entries, everyone's on the collections the actor
        owns, and the system's on the collections the actor may read; how many there
        are, and a page of them (read from the store, not held in memory)."""
        readable = self.readable(actor, teams)
        query = JournalQuery(
            actor=actor,
            owned=tuple(str(c.id) for c, role in readable if role is CollectionRole.OWNER),
            readable=tuple(str(c.id) for c, _ in readable),
            outcome=outcome,
            offset=offset,
            limit=limit,
        )
        return self.journal_page(query, AuditEntry.model_validate)


def _by_id(view: Any) -> str:
    return str(view.id)


def audit_entry(record: AuditRecord) -> AuditEntry:
    return AuditEntry(
        id=record.id,
        at=record.created_on,
        actor=record.actor,
        action=record.action,
        outcome=record.outcome,
        collection_id=record.collection_id,
        target_id=record.target_id,
        code=record.code,
        message=record.message,
    )


def system_entry(op: Operation, outcome: str, version: int) -> AuditEntry:
    return AuditEntry(
        id=uuid5(op.id, str(version)),
        at=op.modified_on,
        actor="system",
        action=f"operation.{outcome}",
        outcome=outcome,
        collection_id=op.collection_id,
        target_id=op.id,
        message=op.error or f"{op.operation_type} {outcome}",
    )


def collection_view(c: Collection, role: CollectionRole | None = None) -> CollectionView:
    return CollectionView(
        id=c.id,
        name=c.name,
        description=c.description,
        owner=c.owner,
        model_name=c.model_name,
        model_dimension=c.model_dimension,
        status=CollectionStatus(c.status),
        status_reason=c.status_reason,
        chunk_size=c.chunk_size,
        chunk_overlap=c.chunk_overlap,
        document_count=c.document_count,
        chunk_count=c.chunk_count,
        size_bytes=c.size_bytes,
        active_generation=c.active_generation,
        staging_generation=c.staging_generation,
        embed_precision=c.precision_of(c.active_generation),
        active_operation_id=c.active_operation_id,
        created_at=c.created_on,
        updated_at=c.modified_on,
        my_role=role,
    )


def operation_view(op: Operation, queue_position: int | None = None) -> OperationView:
    return OperationView(
        id=op.id,
        collection_id=op.collection_id,
        type=op.operation_type,
        status=OperationStatus(op.status),
        queue_position=queue_position,
        progress=round(op.progress, 4),
        processed=op.embedded_chunks,
        total=op.expected_chunks or 0,
        skipped=op.skipped,
        failed=op.failed_documents,
        message=op.message,
        error=op.error,
        stats=op.stats or dict(op.scan_stats or {}),
        failures=[Failure(**f) for f in op.failures],
        requested_by=op.requested_by,
        trigger=op.params.get("trigger", "user"),
        created_at=op.requested_at,
        started_at=op.started_at,
        completed_at=op.completed_at,
    )


def source_view(s: Source) -> SourceView:
    return SourceView(
        id=s.id,
        collection_id=s.collection_id,
        kind=s.kind,
        path=s.path,
        text_columns=s.text_columns,
        context_columns=s.context_columns,
        id_column=s.id_column,
        created_at=s.created_on,
        sync=s.settings,
        sync_status=s.sync_status,
        sync_reason=s.sync_reason,
        last_sync_at=s.last_sync_at,
        next_sync_at=s.next_sync_at,
        versions=[SourceVersion.model_validate(v) for v in s.versions],
    )
