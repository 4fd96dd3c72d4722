"""Queries: answered from the read models alone, with the same access rules as
commands (unknown id → 404, not shared with the asker → 403; SPEC §11)."""

from __future__ import annotations

import time

from semantik_contracts import CollectionRole, commands
from semantik_contracts.views import (
    AuditEntry,
    CollectionAccess,
    CollectionList,
    CollectionView,
    Grant,
    OperationView,
    Page,
    ProjectionsRebuilt,
    SourceView,
    Usage,
)

from .projections import ReadModel, collection_view, source_view
from .quota import Quotas


class Queries:
    def __init__(self, read_model: ReadModel, quotas: Quotas) -> None:
        self.read_model = read_model
        self.quotas = quotas

    def get_collection(self, q: commands.GetCollection) -> CollectionView:
        return collection_view(*self.read_model.collection_for(q.actor, q.teams, q.collection_id))

    def get_collections(self, q: commands.GetCollections) -> CollectionList:
        found = [self.read_model.collection_for(q.actor, q.teams, cid) for cid in q.collection_ids]
        return CollectionList(items=[collection_view(c, role) for c, role in found])

    def list_collections(self, q: commands.ListCollections) -> Page[CollectionView]:
        found = self.read_model.readable(q.actor, q.teams, q.status)
        if q.name:
            wanted = q.name.casefold()
            found = [(c, role) for c, role in found if wanted in c.name.casefold()]
        items = [collection_view(c, role) for c, role in found[q.offset : q.offset + q.limit]]
        return Page[CollectionView](items=items, total=len(found), limit=q.limit, offset=q.offset)

    def get_access(self, q: commands.GetAccess) -> CollectionAccess:
        """The owner's view of who else may do what."""
        collection, _ = self.read_model.collection_for(
            q.actor, q.teams, q.collection_id, CollectionRole.OWNER
        )
        grants = []
        for key, role in sorted(collection.grants.items()):
            principal_type, principal_id = key.split(":", 1)
            grants.append(
                Grant(principal_type=principal_type, principal_id=principal_id, role=role)
            )
        return CollectionAccess(collection_id=collection.id, owner=collection.owner, grants=grants)

    def get_operation(self, q: commands.GetOperation) -> OperationView:
        found = self.read_model.operation_for(q.actor, q.teams, q.operation_id)
        return self.read_model.operation_view(found)

    def list_operations(self, q: commands.ListOperations) -> Page[OperationView]:
        if q.collection_id is not None:
            self.read_model.collection_for(q.actor, q.teams, q.collection_id)
        readable = {c.id for c, _ in self.read_model.readable(q.actor, q.teams, deleted=True)}
        found = self.read_model.operations_of(readable, q.collection_id, q.status)
        if q.operation_type:
            found = [o for o in found if o.operation_type == q.operation_type]
        items = [self.read_model.operation_view(o) for o in found[q.offset : q.offset + q.limit]]
        return Page[OperationView](items=items, total=len(found), limit=q.limit, offset=q.offset)

    def list_sources(self, q: commands.ListSources) -> list[SourceView]:
        self.read_model.collection_for(q.actor, q.teams, q.collection_id)
        return [source_view(s) for s in self.read_model.sources_of(q.collection_id)]

    def get_audit(self, q: commands.GetAudit) -> Page[AuditEntry]:
        total, items = self.read_model.audit_of(q.actor, q.teams, q.outcome, q.offset, q.limit)
        return Page[AuditEntry](items=items, total=total, limit=q.limit, offset=q.offset)

    def get_usage(self, q: commands.GetUsage) -> Usage:
        """What the actor owns, against the quotas (shared collections count for their
        owners)."""
        owned = self.read_model.collections_of(q.actor)
        running = self.read_model.operations_of({c.id for c in owned})
        active = [op for op in running if not op.is_terminal]
        return Usage(
            collections=len(owned),
            max_collections=self.quotas.max_collections_per_user,
            documents=sum(c.document_count for c in owned),
            chunks=sum(c.chunk_count for c in owned),
            size_bytes=sum(c.size_bytes for c in owned),
            collection_size_limit_bytes=self.quotas.size_limit_bytes,
            active_operations=len(active),
        )

    def rebuild(self, _: commands.RebuildProjections | None = None) -> ProjectionsRebuilt:
        """Drop the read models and fold the log again; report both fingerprints."""
        began = time.perf_counter()
        before = self.read_model.digest()
        self.read_model.rebuild()
        model = self.read_model
        return ProjectionsRebuilt(
            position=model.position,
            collections=len(model.collections),
            operations=len(model.operations),
            sources=len(model.sources),
            audit_entries=len(model.audit),
            digest_before=before,
            digest_after=model.digest(),
            seconds=round(time.perf_counter() - began, 3),
        )
