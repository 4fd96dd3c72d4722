"""Sync of sources on the collections side (SPEC §12): settings kept in the log, ingest's
requests coalesced into one queued index per source, the watcher's state, and refusals
(a removed source, sync off, an upload)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from collections_service.application import CollectionsApplication
from collections_service.projections import source_view
from collections_service.source_sync import (
    change_source_sync,
    list_synced_sources,
    report_sync_status,
    sync_source,
)
from eventsourcing.persistence import StoredEvent
from semantik_contracts import ErrorCode, commands
from semantik_contracts.sync import OperationTrigger, SourceSync, SyncStatus
from semantik_runtime.eventstore import event_store_env
from semantik_runtime.relay import envelope_for

from services.collections.tests.application_case import code_of

WATCH = OperationTrigger.WATCH


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = CollectionsApplication(env=event_store_env("collections", None, tmp_path))
    yield application
    application.close()


def watched(app: CollectionsApplication, sync: SourceSync) -> tuple[Any, Any]:
    collection = app.create_collection(commands.CreateCollection(actor="ada", name="notes"))
    command = commands.AddSource(
        actor="ada", collection_id=collection.id, path="/srv/notes", sync=sync
    )
    return collection, app.add_source(command, "/srv/notes", "directory")


def ask(app: CollectionsApplication, cid: Any, sid: Any) -> Any:
    return sync_source(app, commands.SyncSource(collection_id=cid, source_id=sid, trigger=WATCH))


def test_requests_while_one_runs_make_one_queued_index(app: CollectionsApplication) -> None:
    collection, added = watched(app, SourceSync(watch=True))
    assert (added.source.sync_status, added.operation.trigger) == (SyncStatus.PENDING, "user")
    first = ask(app, collection.id, added.source.id)
    again = [ask(app, collection.id, added.source.id) for _ in range(5)]
    assert first.operation.status == "queued" and first.operation.trigger == "watch"
    assert {a.operation.id for a in again} == {first.operation.id}
    assert first.operation.requested_by == "system"
    assert first.source.last_sync_at is not None
    envelopes = [envelope_for(e) for e in app.events.get(added.source.id)]
    names = [e.event.type for e in envelopes if e is not None]
    assert names == ["SourceAdded", "SourceSyncRequested"]  # once: the others joined it


def test_settings_schedule_and_state_survive_a_restart(tmp_path: Path) -> None:
    env = event_store_env("collections", None, tmp_path)
    app = CollectionsApplication(env=env)
    collection, added = watched(app, SourceSync())
    sid = added.source.id
    assert added.source.sync_status == SyncStatus.OFF and added.source.next_sync_at is None
    assert list_synced_sources(app, commands.ListSyncedSources()).items == []
    change = commands.ChangeSourceSync(
        actor="ada", collection_id=collection.id, source_id=sid, sync=SourceSync(interval_minutes=5)
    )
    view = change_source_sync(app, change)
    assert view.next_sync_at is not None and view.sync_status == SyncStatus.PENDING
    stopped = commands.ReportSyncStatus(
        collection_id=collection.id, source_id=sid, status=SyncStatus.STOPPED, reason="gone"
    )
    report_sync_status(app, stopped)
    app.close()
    again = CollectionsApplication(env=env)
    (listed,) = list_synced_sources(again, commands.ListSyncedSources()).items
    assert (listed.sync.interval_minutes, listed.sync_status, listed.sync_reason) == (
        5,
        SyncStatus.STOPPED,
        "gone",
    )
    assert listed.next_sync_at == view.next_sync_at
    assert [e.action for e in again.read_model.audit][-1] == "source.change_sync"
    again.close()


def test_refused(app: CollectionsApplication) -> None:
    collection, added = watched(app, SourceSync())
    cid, sid = collection.id, added.source.id
    assert code_of(lambda: ask(app, cid, sid)) is ErrorCode.CONFLICT  # sync is off
    assert code_of(lambda: ask(app, cid, uuid4())) is ErrorCode.NOT_FOUND
    upload = commands.AddSource(
        actor="ada",
        collection_id=cid,
        path=f"upload://{cid}/a.csv",
        sync=SourceSync(watch=True),
    )
    assert code_of(lambda: app.check_new_source(upload)) is ErrorCode.INVALID
    app.remove_source(commands.RemoveSource(actor="ada", collection_id=cid, source_id=sid))
    late = commands.ChangeSourceSync(
        actor="ada", collection_id=cid, source_id=sid, sync=SourceSync(watch=True)
    )
    assert code_of(lambda: change_source_sync(app, late)) is ErrorCode.NOT_FOUND
    assert code_of(lambda: ask(app, cid, sid)) is ErrorCode.NOT_FOUND


def test_a_source_added_before_sync_existed_loads_with_sync_off(
    app: CollectionsApplication,
) -> None:
    """v1 ``SourceAdded`` (no ``sync``), as an earlier build wrote it."""
    written = json.loads((Path(__file__).parent / "fixtures" / "events_v1.json").read_text())
    app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=UUID(e["originator_id"]),
                originator_version=e["originator_version"],
                topic=e["topic"],
                state=e["state"].encode(),
            )
            for e in written["events"]
        ]
    )
    app.read_model.catch_up()
    (source,) = [s for s in app.read_model.sources.values()]
    old = source_view(source)
    assert (old.sync, old.sync_status, old.last_sync_at, old.next_sync_at) == (
        SourceSync(),
        SyncStatus.OFF,
        None,
        None,
    )
