"""The ingest application's decisions and registry, on both event stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.utils import resolve_topic
from ingest_service.application import Action, IngestApplication, NewDocument
from ingest_service.domain import document_id, scan_id
from ingest_service.scan_aggregate import Scan, ScanSource
from semantik_contracts import OperationType, SkipReason
from semantik_contracts.events import OperationRequested
from semantik_runtime.eventstore import event_store_env
from semantik_runtime.relay import envelope_for

pytestmark = pytest.mark.integration

SOURCE = uuid4()
SHA_A, SHA_B = "a" * 64, "b" * 64


def request(collection_id: UUID) -> OperationRequested:
    return OperationRequested(
        collection_id=collection_id,
        operation_id=uuid4(),
        operation_type=OperationType.INDEX,
        requested_by="u1",
        source_ids=[SOURCE],
        model_name="sentence-transformers/all-MiniLM-L6-v2",
        chunk_size=128,
        chunk_overlap=12,
    )


def new(path: str, sha: str, chunks: int = 2) -> NewDocument:
    return NewDocument(SOURCE, path, sha, 100, "text/markdown", chunks)


class IngestApplicationCase:
    """Subclasses provide the ``env`` fixture: the eventsourcing environment of one store."""

    @pytest.fixture
    def app(self, env: dict[str, str]) -> Iterator[IngestApplication]:
        application = IngestApplication(env=env)
        yield application
        application.close()

    def scan(self, app: IngestApplication, collection_id: UUID | None = None) -> Scan:
        sources = [ScanSource(SOURCE, "directory", "/data/docs")]
        return app.start_scan(request(collection_id or uuid4()), sources)

    def test_a_scan_starts_once_per_operation(self, app: IngestApplication) -> None:
        req = request(uuid4())
        first = app.start_scan(req, [])
        again = app.start_scan(req, [])
        assert again.id == first.id == scan_id(req.operation_id)
        assert first.operation_id == req.operation_id
        assert again.version == first.version
        assert app.open_scans() == [req.operation_id]
        assert (first.chunk_size, first.chunk_overlap, first.generation) == (128, 12, 1)

    def test_decisions_follow_paths_and_content(self, app: IngestApplication) -> None:
        first = self.scan(app)
        assert app.classify(first, "/d/a.md", SHA_A).action is Action.NEW
        assert app.register(first, new("/d/a.md", SHA_A), None)
        # Within the same scan (a resumed one), its own document is published again.
        assert app.classify(first, "/d/a.md", SHA_A).action is Action.REPUBLISH
        assert app.classify(first, "/d/copy.md", SHA_A).action is Action.DUPLICATE

        second = self.scan(app, first.collection_id)
        assert app.classify(second, "/d/a.md", SHA_A).action is Action.UNCHANGED
        changed = app.classify(second, "/d/a.md", SHA_B)
        assert changed.action is Action.NEW
        assert changed.stale is not None
        assert changed.stale.id == document_id(first.collection_id, SHA_A)
        assert app.register(second, new("/d/a.md", SHA_B, 3), changed.stale.id)
        record = app.registry.current_at(first.collection_id, "/d/a.md")
        assert record is not None
        assert (record.sha256, record.replaces) == (SHA_B, [changed.stale.id])
        stats = app.registry.stats(second.operation_id)
        assert (stats.new_documents, stats.chunks, stats.removed, stats.removed_chunks) == (
            1,
            3,
            1,
            2,
        )

    def test_content_seen_again_after_removal_is_registered_anew(
        self, app: IngestApplication
    ) -> None:
        first = self.scan(app)
        assert app.register(first, new("/d/a.md", SHA_A), None)
        doc = document_id(first.collection_id, SHA_A)
        second = self.scan(app, first.collection_id)
        app.remove(second.operation_id, [doc])
        assert app.registry.current_at(first.collection_id, "/d/a.md") is None
        third = self.scan(app, first.collection_id)
        assert app.classify(third, "/d/b.md", SHA_A).action is Action.NEW
        assert app.register(third, new("/d/b.md", SHA_A), None)
        names = [
            type(app.mapper.to_domain_event(n)).__name__
            for n in app.recorder.select_notifications(1, 100)
            if n.originator_id == doc
        ]
        assert names == [
            "DocumentCreated",
            "DocumentRegistered",
            "DocumentRemoved",
            "DocumentRegistered",
        ]

    def test_parallel_scanners_register_the_same_content_once(
        self, app: IngestApplication, env: dict[str, str]
    ) -> None:
        other = IngestApplication(env=env)
        try:
            mine = self.scan(app)
            theirs = self.scan(other, mine.collection_id)
            other.registry.catch_up()
            # Both decide before either registers: the event store breaks the tie.
            assert app.classify(mine, "/d/a.md", SHA_A).action is Action.NEW
            assert other.classify(theirs, "/d/b.md", SHA_A).action is Action.NEW
            assert app.register(mine, new("/d/a.md", SHA_A), None)
            assert not other.register(theirs, new("/d/b.md", SHA_A), None)
            assert other.classify(theirs, "/d/b.md", SHA_A).action is Action.DUPLICATE
        finally:
            other.close()

    def test_skips_are_recorded_once_and_tallied(self, app: IngestApplication) -> None:
        scan = self.scan(app)
        for _ in range(2):
            app.note_skip(scan, SOURCE, "/d/x.md", SkipReason.DUPLICATE, None)
            app.note_failure(scan, SOURCE, "/d/bin.txt", "binary file")
        app.note_failure(scan, SOURCE, "/d", "gone", "source")
        assert app.register(scan, new("/d/a.md", SHA_A, 4), None)
        stats = app.complete(scan)
        assert stats.model_dump() == {
            "total_files_found": 3,
            "new_documents": 1,
            "duplicates_skipped": 1,
            "unchanged_skipped": 0,
            "failed": 2,
            "removed": 0,
            "bytes": 100,
            "chunks": 4,
            "removed_chunks": 0,
            "removed_bytes": 0,
            "stopped": False,
            "reindexed_documents": 0,
        }
        assert app.open_scans() == []
        before = (dict(app.registry.paths), app.registry.stats(scan.operation_id))
        app.registry.rebuild()
        assert (dict(app.registry.paths), app.registry.stats(scan.operation_id)) == before

    def test_stored_events_map_to_the_contract(self, app: IngestApplication) -> None:
        first = self.scan(app)
        assert app.register(first, new("/d/a.md", SHA_A), None)
        second = self.scan(app, first.collection_id)
        stale = document_id(first.collection_id, SHA_A)
        assert app.register(second, new("/d/a.md", SHA_B), stale)
        published: list[Any] = []
        for notification in app.recorder.select_notifications(1, 100):
            envelope = envelope_for(app.mapper.to_domain_event(notification))
            if envelope is not None:
                published.append(envelope)
        types = [(e.aggregate_type, e.type) for e in published]
        assert types == [
            ("scan", "ScanStarted"),
            ("document", "DocumentRegistered"),
            ("scan", "ScanStarted"),
            ("document", "DocumentRegistered"),
            ("document", "DocumentSuperseded"),
        ]
        superseded = published[-1].event
        assert superseded.previous_id == stale == published[-1].aggregate_id
        assert superseded.document_id == document_id(first.collection_id, SHA_B)
        assert published[1].event.document_id == stale
        assert published[0].event.operation_id == first.operation_id
        assert published[0].aggregate_id == first.id != first.operation_id


class TestIngestApplicationOnSQLite(IngestApplicationCase):
    @pytest.fixture
    def env(self, tmp_path: Path) -> dict[str, str]:
        return event_store_env("ingest", None, tmp_path)


class TestIngestApplicationOnPostgreSQL(IngestApplicationCase):
    @pytest.fixture
    def env(self, database_url: str, tmp_path: Path) -> dict[str, str]:
        return event_store_env("ingest", database_url, tmp_path)


@pytest.mark.unit
def test_scan_events_stored_under_their_old_module_still_load() -> None:
    assert resolve_topic("ingest_service.domain:Scan.ScanStarted") is Scan.ScanStarted
    assert resolve_topic("ingest_service.domain:Scan.DocumentFailed") is Scan.DocumentFailed
