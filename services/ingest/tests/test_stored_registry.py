"""Ingest's document registry kept in the application's database (SPEC §14, bounded
state), on both event stores: a restart loads it and folds only the events after it,
and answers as the whole log folded again does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from ingest_service.application import IngestApplication, NewDocument
from ingest_service.domain import document_id, work_id
from ingest_service.projections import Registry
from ingest_service.scan_aggregate import Scan, ScanSource
from semantik_contracts import SkipReason
from semantik_contracts.events import ChunksEmbedded
from semantik_runtime.eventstore import event_store_env

from services.ingest.tests.scans import index_scan

pytestmark = pytest.mark.integration

SOURCE = uuid4()


def state(registry: Registry) -> dict[str, Any]:
    return {table: getattr(registry, table) for table in Registry.tables}


class StoredRegistryCase:
    @pytest.fixture
    def apps(self, env: dict[str, str]) -> Iterator[list[IngestApplication]]:
        opened: list[IngestApplication] = []
        yield opened
        for app in opened:
            app.close()

    def open(self, env: dict[str, str], apps: list[IngestApplication]) -> IngestApplication:
        app = IngestApplication(env=env)
        apps.append(app)
        return app

    def scan(self, app: IngestApplication) -> Scan:
        return index_scan(app, [ScanSource(SOURCE, "directory", "/d")])

    def test_a_restart_folds_only_what_came_after_the_stored_registry(
        self, env: dict[str, str], apps: list[IngestApplication]
    ) -> None:
        app = self.open(env, apps)
        scan = self.scan(app)
        for n in range(3):
            assert app.register(
                scan, NewDocument(SOURCE, f"/d/{n}.md", f"{n}" * 64, 10, "text/plain", 2), None
            )
        doc = document_id(scan.collection_id, "0" * 64)
        app.note_embedded(
            [
                ChunksEmbedded(
                    collection_id=scan.collection_id,
                    operation_id=scan.operation_id,
                    document_id=doc,
                    generation=scan.generation,
                    chunk_count=2,
                    work_id=work_id(scan.operation_id, doc, scan.generation),
                )
            ]
        )
        app.note_skip(scan, SOURCE, "/d/dup.md", SkipReason.DUPLICATE, doc)
        app.note_failure(scan, SOURCE, "/d/bad.bin", "binary file")
        app.flush(scan)
        app.registry.checkpoint()
        stored_at = app.registry.position
        app.remove(scan.operation_id, [document_id(scan.collection_id, "1" * 64)])
        other = self.scan(app)  # open, after the write

        again = self.open(env, apps)
        # What it folded after loading (none written since: fewer than 1000).
        assert again.registry._unsaved == app.registry.position - stored_at > 0
        assert again.registry.position == app.registry.position
        assert state(again.registry) == state(app.registry)
        assert other.operation_id in again.registry.open_scans
        assert again.registry.stats(scan.operation_id) == app.registry.stats(scan.operation_id)
        again.registry.rebuild()
        assert state(again.registry) == state(app.registry)


class TestStoredRegistryOnSQLite(StoredRegistryCase):
    @pytest.fixture
    def env(self, tmp_path: Path) -> dict[str, str]:
        return event_store_env("ingest", None, tmp_path)


class TestStoredRegistryOnPostgreSQL(StoredRegistryCase):
    @pytest.fixture
    def env(self, database_url: str, tmp_path: Path) -> dict[str, str]:
        return event_store_env("ingest", database_url, tmp_path)
