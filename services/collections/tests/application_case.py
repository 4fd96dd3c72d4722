"""The collections application's contract test case, shared by the test modules that run
it on both event stores (test_application*.py): the ``app`` fixture, the helpers that drive
it, and the SQLite and PostgreSQL environments a subclass mixes in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from collections_service.application import CollectionsApplication
from collections_service.operation_process import OperationProcess
from collections_service.projections import ReadModel
from collections_service.quota import GIB, Quotas
from semantik_contracts import ErrorCode, commands, events
from semantik_runtime.errors import CommandError
from semantik_runtime.eventstore import event_store_env


def code_of(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(CommandError) as err:
        call()
    return err.value.code


class CollectionsApplicationCase:
    """Subclasses provide ``env``, the eventsourcing environment of one store: they mix in
    ``OnSQLite`` or ``OnPostgres``."""

    #: 3 collections per user; 1 KiB per collection (small enough to reach in a test).
    quotas = Quotas(max_collections_per_user=3, collection_size_limit_gb=1024 / GIB)

    @pytest.fixture
    def app(self, env: dict[str, str]) -> Iterator[CollectionsApplication]:
        application = CollectionsApplication(env=env, quotas=self.quotas)
        yield application
        application.close()

    def create(self, app: CollectionsApplication, name: str = "docs", actor: str = "u1") -> Any:
        return app.create_collection(commands.CreateCollection(actor=actor, name=name))

    def add_source(self, app: CollectionsApplication, collection_id: Any, path: str = "/d") -> Any:
        cmd = commands.AddSource(actor="u1", collection_id=collection_id, path=path)
        return app.add_source(cmd, path, "directory")

    def finish(
        self,
        app: CollectionsApplication,
        view: Any,
        op_id: UUID,
        chunks: int = 5,
        size: int = 300,
        *,
        started_last: bool = False,
        generation: int = 1,
        precision: str = "fp32",
    ) -> None:
        """Feed the process manager what ingest and the embedder would say; with
        ``started_last``, the scan's start is folded in after its end and its chunks (it
        comes through a consumer of its own)."""
        process = OperationProcess(app)
        started = events.ScanStarted(collection_id=view.id, operation_id=op_id)
        if not started_last:
            process.on_scan_started(started)
        stats = events.ScanStats(total_files_found=2, new_documents=2, chunks=chunks, bytes=size)
        process.on_scan_completed(
            events.ScanCompleted(collection_id=view.id, operation_id=op_id, stats=stats)
        )
        process.on_chunks_embedded(
            events.ChunksEmbedded(
                collection_id=view.id,
                operation_id=op_id,
                document_id=uuid4(),
                generation=generation,
                chunk_count=chunks,
                work_id=f"{op_id}:w",
                precision=precision,
            )
        )
        if started_last:
            process.on_scan_started(started)

    def scanning(self, app: CollectionsApplication) -> tuple[Any, UUID, OperationProcess]:
        """A new collection whose first index has started scanning."""
        view = self.create(app)
        op_id = self.add_source(app, view.id).operation.id
        process = OperationProcess(app)
        process.on_scan_started(events.ScanStarted(collection_id=view.id, operation_id=op_id))
        return view, op_id, process

    def collection(self, app: CollectionsApplication, view: Any, actor: str = "u1") -> Any:
        return app.queries.get_collection(
            commands.GetCollection(actor=actor, collection_id=view.id)
        )

    def operation(self, app: CollectionsApplication, op_id: UUID) -> Any:
        return app.queries.get_operation(commands.GetOperation(actor="u1", operation_id=op_id))

    @staticmethod
    def snapshot(model: ReadModel) -> dict[str, Any]:
        from collections_service.projections import collection_view, operation_view, source_view

        return {
            "collections": {k: collection_view(v) for k, v in model.collections.items()},
            "operations": {k: operation_view(v) for k, v in model.operations.items()},
            "sources": {k: source_view(v) for k, v in model.sources.items()},
            "audit": list(model.audit),
        }


class OnSQLite:
    """The SQLite event store, in the test's tmp dir."""

    @pytest.fixture
    def env(self, tmp_path: Path) -> dict[str, str]:
        return event_store_env("collections", None, tmp_path)


class OnPostgres:
    """The PostgreSQL event store of this run's server."""

    @pytest.fixture
    def env(self, database_url: str, tmp_path: Path) -> dict[str, str]:
        return event_store_env("collections", database_url, tmp_path)
