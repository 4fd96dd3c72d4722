"""A replica's sync while the collections service does not answer its listing."""

from __future__ import annotations

import contextlib
from pathlib import Path
from uuid import uuid4

import pytest
from ingest_service.leases import Leases
from ingest_service.sources.roots import SourceRoots
from ingest_service.sync import coordinator as coordinator_module
from ingest_service.sync.coordinator import SyncCoordinator
from ingest_service.sync.freshness import Freshness
from nats.js.errors import NotFoundError
from semantik_contracts.commands import ListSyncedSources
from semantik_contracts.subjects import COLLECTIONS, command_subject
from semantik_contracts.views import SourceList
from semantik_runtime.bus import Bus

pytestmark = pytest.mark.integration


async def test_a_start_before_the_collections_service_is_no_warning_an_outage_is(
    private_nats_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ingest and collections start side by side: ingest's first listings find no one
    answering, which every start of ``semantik run`` logged as a WARNING. They are said
    at INFO until the listing has failed for ``UNLISTED_PATIENCE``, then as a WARNING at
    each refresh, and a listing that answers again says so."""
    bus = await Bus.connect(private_nats_url, "ingest-test")
    bucket = f"TEST_SYNC_LEASES_{uuid4().hex[:8]}"
    leases = Leases(bus, "replica", 30.0, bucket=bucket, prefix="source", description="test")
    coordinator = SyncCoordinator(bus, SourceRoots([tmp_path]), leases, Freshness(bus))
    caplog.set_level("INFO", logger=coordinator_module.__name__)
    try:
        await coordinator.tick()  # no collections service subscribes here
        (first,) = [r for r in caplog.records if "not listed" in r.getMessage()]
        assert first.levelname == "INFO" and "no service answers" in first.getMessage()

        monkeypatch.setattr(coordinator_module, "UNLISTED_PATIENCE", 0.0)
        caplog.clear()
        await coordinator.tick()
        (later,) = [r for r in caplog.records if "not listed" in r.getMessage()]
        assert later.levelname == "WARNING"
        assert coordinator.sources == {} and coordinator.watchers == {}

        async def listing(_: ListSyncedSources) -> SourceList:
            return SourceList(items=[])

        collections = await Bus.connect(private_nats_url, "collections-test")
        subject = command_subject(COLLECTIONS, "ListSyncedSources")
        await collections.serve(subject, ListSyncedSources, listing, queue="collections")
        caplog.clear()
        await coordinator.tick()
        await collections.close()
        assert [r.getMessage() for r in caplog.records] == ["synced sources listed again"]
        await coordinator.tick()  # failing again: a new outage, counted from now
        (again,) = [r for r in caplog.records if "not listed" in r.getMessage()]
        assert "not listed for 0 s" in again.getMessage()
    finally:
        with contextlib.suppress(NotFoundError):  # made only when a lease is taken
            await bus.js.delete_key_value(bucket)
        await bus.close()
