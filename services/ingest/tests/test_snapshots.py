"""Snapshots of ingest's scans and documents (SPEC §14), on both event stores: a snapshot
restores exactly what the events build, and a long scan loads from its latest snapshot
and still records each path once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import project_aggregate
from eventsourcing.domain import Aggregate, Snapshot
from ingest_service.application import IngestApplication, NewDocument
from ingest_service.domain import Document, document_id, work_id
from ingest_service.scan_aggregate import Scan, ScanSource
from semantik_contracts import SkipReason
from semantik_contracts.events import ChunksEmbedded
from semantik_runtime.eventstore import event_store_env

from services.ingest.tests.scans import index_scan

pytestmark = pytest.mark.integration

SOURCE = uuid4()


def shape(value: Any) -> Any:
    """The type of every part of ``value`` (a tuple equals no list, but a set of
    strings must not come back as a list of them)."""
    if isinstance(value, dict):
        return (type(value), {key: shape(v) for key, v in value.items()})
    if isinstance(value, list | tuple):
        return (type(value), [shape(v) for v in value])
    if isinstance(value, set | frozenset):
        return (type(value), sorted({type(v).__name__ for v in value}))
    return type(value)


def load(app: IngestApplication, aggregate_id: UUID) -> tuple[Any, list[Any]]:
    """The aggregate as ``repository.get`` loads it, with what it read from the stores."""
    read: list[Any] = []

    def counted(events: Iterable[Any]) -> Iterator[Any]:
        for e in events:
            read.append(e)
            yield e

    aggregate = app.repository.get(
        aggregate_id,
        projector_func=lambda initial, events: project_aggregate(initial, counted(events)),
    )
    return aggregate, read


class SnapshotsTenTimesAsOften(IngestApplication):
    """The application with each of its snapshot intervals divided by ten: a history a
    tenth as long crosses as many snapshot points, through the same code."""

    name = IngestApplication.name  # its tables, not a new application's
    snapshot_every = {kind: n // 10 for kind, n in IngestApplication.snapshot_every.items()}


class IngestSnapshotsCase:
    """Subclasses provide the ``env`` fixture: the eventsourcing environment of one store."""

    @pytest.fixture
    def app(self, env: dict[str, str]) -> Iterator[IngestApplication]:
        application = IngestApplication(env=env)
        yield application
        application.close()

    def scan(self, app: IngestApplication) -> Scan:
        sources = [ScanSource(SOURCE, "records", "/data/rows.csv", ("title", "body"), ("author",))]
        return index_scan(app, sources)

    def assert_restores_its_events(
        self, app: IngestApplication, env: dict[str, str], aggregate_id: UUID
    ) -> None:
        app.take_snapshot(aggregate_id)
        fresh = IngestApplication(env=env)
        try:
            restored, read = load(fresh, aggregate_id)
        finally:
            fresh.close()
        assert len(read) == 1 and isinstance(read[0], Snapshot)
        expected = project_aggregate(None, app.events.get(aggregate_id))
        assert isinstance(expected, Aggregate)
        assert restored.__dict__ == expected.__dict__
        assert shape(restored.__dict__) == shape(expected.__dict__)

    def test_a_scan_is_restored_from_its_snapshot(
        self, app: IngestApplication, env: dict[str, str]
    ) -> None:
        scan = self.scan(app)
        app.note_skip(scan, SOURCE, "/data/a.md", SkipReason.DUPLICATE, uuid4())
        app.note_failure(scan, SOURCE, "/data/b.bin", "binary file")
        app.report_progress(scan, files_found=3, files_done=2)
        self.assert_restores_its_events(app, env, scan.id)

    def test_a_document_is_restored_from_its_snapshot(
        self, app: IngestApplication, env: dict[str, str]
    ) -> None:
        first = self.scan(app)
        assert app.register(
            first, NewDocument(SOURCE, "/d/a.md", "a" * 64, 10, "text/plain", 2), None
        )
        doc_id = document_id(first.collection_id, "a" * 64)
        app.note_embedded(
            [
                ChunksEmbedded(
                    collection_id=first.collection_id,
                    operation_id=first.operation_id,
                    document_id=doc_id,
                    generation=first.generation,
                    chunk_count=2,
                    work_id=work_id(first.operation_id, doc_id, first.generation),
                )
            ]
        )
        doc: Document = app.repository.get(doc_id)
        assert doc.current and len(doc.work_done) == 1
        self.assert_restores_its_events(app, env, doc_id)

    @pytest.fixture
    def often(self, env: dict[str, str]) -> Iterator[IngestApplication]:
        application = SnapshotsTenTimesAsOften(env=env)
        yield application
        application.close()

    def test_a_long_scan_loads_from_its_latest_snapshot(
        self, often: IngestApplication, env: dict[str, str]
    ) -> None:
        """60 skipped paths, a scan snapshotted every 50 events (a tenth of its 500): a
        snapshot past version 50; a fresh application reads it and the events after it,
        and a path met again (a resumed scan) is not recorded twice."""
        assert often.snapshot_every[Scan] == 50
        scan = self.scan(often)
        paths = [f"/data/{n}.md" for n in range(60)]
        for start in range(0, len(paths), 10):
            for path in paths[start : start + 10]:
                often.note_skip(scan, SOURCE, path, SkipReason.UNCHANGED, None)
            often.flush(scan)
        assert often.snapshots is not None
        # Where the save of versions 42-51 passed 50.
        assert [s.originator_version for s in often.snapshots.get(scan.id)] == [51]

        fresh = IngestApplication(env=env)
        try:
            resumed, read = load(fresh, scan.id)
            assert isinstance(read[0], Snapshot) and read[0].originator_version == 51
            assert len(read) - 1 == resumed.version - 51 == 10
            assert resumed.handled == set(paths) and resumed.sources == scan.sources
            again = fresh.get_scan(scan.operation_id)
            fresh.note_skip(again, SOURCE, paths[3], SkipReason.UNCHANGED, None)
            assert not again.pending_events
            stats = fresh.complete(again)
            assert stats.unchanged_skipped == 60
        finally:
            fresh.close()


class TestIngestSnapshotsOnSQLite(IngestSnapshotsCase):
    @pytest.fixture
    def env(self, tmp_path: Path) -> dict[str, str]:
        return event_store_env("ingest", None, tmp_path)


class TestIngestSnapshotsOnPostgreSQL(IngestSnapshotsCase):
    @pytest.fixture
    def env(self, database_url: str, tmp_path: Path) -> dict[str, str]:
        return event_store_env("ingest", database_url, tmp_path)
