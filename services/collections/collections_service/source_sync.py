"""Continuous sync of sources (SPEC §12), the collections side: a source's sync
settings, ingest's requests to index one source again (watch or schedule), and the
state of its watcher. Ingest's watchers and schedules ask; this service decides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from semantik_contracts import ErrorCode, OperationStatus, OperationType, commands
from semantik_contracts.sync import OperationTrigger
from semantik_contracts.views import SourceAndOperation, SourceList, SourceView
from semantik_runtime.errors import CommandError, not_found

from .application import CollectionsApplication
from .audit import audited
from .domain import Collection, Source
from .operation import Operation
from .projections import source_view

Direct = Callable[[Callable[[Any], BaseModel]], Callable[[Any], Awaitable[BaseModel]]]

#: Who an operation the watcher or the schedule started was requested by.
SYNC_ACTOR = "system"


@audited
def change_source_sync(app: CollectionsApplication, cmd: commands.ChangeSourceSync) -> SourceView:
    """New watch and schedule settings of a source; nothing is embedded again."""
    source = app.source_for(cmd, cmd.collection_id, cmd.source_id)
    source.change_sync(cmd.sync)
    app.commit(source)
    return source_view(source)


def _live_source(app: CollectionsApplication, collection_id: Any, source_id: Any) -> Source:
    found = app.read_model.sources.get(source_id)
    if found is None or found.removed or found.collection_id != collection_id:
        raise not_found("source", source_id)
    source: Source = app.repository.get(source_id)
    return source


def _queued_of(
    app: CollectionsApplication, collection: Collection, source: Source
) -> Operation | None:
    """The source's own index waiting in the queue: a change it will see when it runs."""
    for operation_id in collection.queue:
        operation = app.read_model.operations.get(operation_id)
        if (
            operation is not None
            and operation.status == OperationStatus.QUEUED
            and operation.operation_type == OperationType.INDEX
            and list(operation.source_ids) == [source.id]
        ):
            found: Operation = app.repository.get(operation_id)
            return found
    return None


def sync_source(app: CollectionsApplication, cmd: commands.SyncSource) -> SourceAndOperation:
    """An incremental ``index`` of the source alone, or its queued one (events coalesce:
    a source never has two operations waiting)."""
    source = _live_source(app, cmd.collection_id, cmd.source_id)
    if not source.settings.enabled:
        raise CommandError(
            ErrorCode.CONFLICT, f"source {source.id} is neither watched nor scheduled"
        )
    return _index_alone(app, cmd.collection_id, source, SYNC_ACTOR, cmd.trigger)


@audited
def rescan_source(app: CollectionsApplication, cmd: commands.RescanSource) -> SourceAndOperation:
    """A user's re-scan of the source now (an editor's right), synced or not: as
    ``sync_source``, with trigger ``user`` and the user as the requester."""
    source = app.source_for(cmd, cmd.collection_id, cmd.source_id)
    return _index_alone(app, cmd.collection_id, source, cmd.actor, OperationTrigger.USER)


def _index_alone(
    app: CollectionsApplication,
    collection_id: UUID,
    source: Source,
    actor: str,
    trigger: OperationTrigger,
) -> SourceAndOperation:
    collection: Collection = app.repository.get(collection_id)
    waiting = _queued_of(app, collection, source)
    if waiting is not None:
        return SourceAndOperation(
            source=source_view(source), operation=app._view(waiting, collection)
        )
    app.quotas.check_room(collection.name, collection.size_bytes)
    operation = app.admission.request(
        collection,
        OperationType.INDEX,
        actor,
        [source.id],
        {"trigger": trigger.value},
        given=[source],
    )
    source.sync_requested(trigger.value, operation.id)
    app.commit(collection, source, operation)
    return SourceAndOperation(
        source=source_view(source), operation=app._view(operation, collection)
    )


def report_sync_status(app: CollectionsApplication, cmd: commands.ReportSyncStatus) -> SourceView:
    source = _live_source(app, cmd.collection_id, cmd.source_id)
    if source.report_sync(cmd.status, cmd.reason):
        app.commit(source)
    return source_view(source)


def list_synced_sources(app: CollectionsApplication, _: commands.ListSyncedSources) -> SourceList:
    live = [s for s in list(app.read_model.sources.values()) if not s.removed]
    return SourceList(items=[source_view(s) for s in live if s.settings.enabled])


def source_sync_handlers(
    app: CollectionsApplication, direct: Direct
) -> list[tuple[type[BaseModel], Callable[[Any], Awaitable[BaseModel]]]]:
    """The bus handlers of the sync commands, for the service's table."""

    def bind(fn: Callable[[CollectionsApplication, Any], BaseModel]) -> Callable[[Any], BaseModel]:
        return lambda cmd: fn(app, cmd)

    return [
        (commands.ChangeSourceSync, direct(bind(change_source_sync))),
        (commands.SyncSource, direct(bind(sync_source))),
        (commands.RescanSource, direct(bind(rescan_source))),
        (commands.ReportSyncStatus, direct(bind(report_sync_status))),
        (commands.ListSyncedSources, direct(bind(list_synced_sources))),
    ]
