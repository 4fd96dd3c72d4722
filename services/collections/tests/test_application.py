"""The collections application on both event stores: one test case, two subclasses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from collections_service.application import CollectionsApplication
from collections_service.process import OperationProcess
from collections_service.projections import ReadModel
from semantik_contracts import CollectionStatus, ErrorCode, OperationStatus, commands, events
from semantik_runtime.errors import CommandError
from semantik_runtime.eventstore import event_store_env

pytestmark = pytest.mark.integration


class CollectionsApplicationCase:
    """Subclasses provide ``env``: the eventsourcing environment of one store."""

    @pytest.fixture
    def app(self, env: dict[str, str]) -> Iterator[CollectionsApplication]:
        application = CollectionsApplication(env=env, max_collections_per_user=3)
        yield application
        application.close()

    def create(self, app: CollectionsApplication, name: str = "docs", actor: str = "u1") -> Any:
        return app.create_collection(commands.CreateCollection(actor=actor, name=name))

    def add_source(self, app: CollectionsApplication, collection_id: Any) -> Any:
        cmd = commands.AddSource(actor="u1", collection_id=collection_id, path="/data/docs")
        return app.add_source(cmd, "/data/docs", "directory")

    def test_create_uses_the_default_model_and_its_chunking(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        assert view.model_name == "sentence-transformers/all-MiniLM-L6-v2"
        assert (view.model_dimension, view.chunk_size, view.chunk_overlap) == (384, 256, 25)
        assert view.status is CollectionStatus.PENDING
        assert view.active_generation == 1

    def test_unknown_model_lists_the_available_ones(self, app: CollectionsApplication) -> None:
        with pytest.raises(CommandError) as err:
            app.create_collection(
                commands.CreateCollection(actor="u1", name="x", model_name="nope/model")
            )
        assert err.value.code is ErrorCode.INVALID
        assert "all-MiniLM-L6-v2" in err.value.message

    def test_names_are_unique_per_owner_and_quota_holds(self, app: CollectionsApplication) -> None:
        self.create(app, "a")
        with pytest.raises(CommandError) as err:
            self.create(app, "A")
        assert err.value.code is ErrorCode.CONFLICT
        self.create(app, "a", actor="u2")  # another owner may use the name
        self.create(app, "b")
        self.create(app, "c")
        with pytest.raises(CommandError) as err:
            self.create(app, "d")
        assert err.value.code is ErrorCode.QUOTA_EXCEEDED

    def test_ownership_not_found_versus_forbidden(self, app: CollectionsApplication) -> None:
        view = self.create(app)
        with pytest.raises(CommandError) as err:
            app.get_collection(commands.GetCollection(actor="u2", collection_id=view.id))
        assert err.value.code is ErrorCode.FORBIDDEN
        with pytest.raises(CommandError) as err:
            app.get_collection(commands.GetCollection(actor="u1", collection_id=uuid4()))
        assert err.value.code is ErrorCode.NOT_FOUND

    def test_index_flow_completes_and_the_read_model_rebuilds_equal(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        started = self.add_source(app, view.id)
        op_id = started.operation.id
        assert started.operation.type == "index"
        with pytest.raises(CommandError):
            self.add_source(app, view.id)  # same path again: conflict
        process = OperationProcess(app)
        process.on_scan_started(events.ScanStarted(collection_id=view.id, operation_id=op_id))
        assert app.get_operation(commands.GetOperation(actor="u1", operation_id=op_id)).status == (
            OperationStatus.PROCESSING
        )
        doc = uuid4()
        embedded = events.ChunksEmbedded(
            collection_id=view.id,
            operation_id=op_id,
            document_id=doc,
            generation=1,
            chunk_count=3,
            work_id="w1",
        )
        process.on_chunks_embedded(embedded)
        process.on_chunks_embedded(embedded)  # redelivered
        process.flush_progress()
        stats = events.ScanStats(total_files_found=2, new_documents=2, chunks=5, failed=0)
        process.on_scan_completed(
            events.ScanCompleted(collection_id=view.id, operation_id=op_id, stats=stats)
        )
        op = app.get_operation(commands.GetOperation(actor="u1", operation_id=op_id))
        assert (op.status, op.processed, op.total) == (OperationStatus.PROCESSING, 3, 5)
        process.on_chunks_embedded(
            embedded.model_copy(update={"document_id": uuid4(), "chunk_count": 2, "work_id": "w2"})
        )
        op = app.get_operation(commands.GetOperation(actor="u1", operation_id=op_id))
        assert op.status is OperationStatus.COMPLETED and op.progress == 1.0
        coll = app.get_collection(commands.GetCollection(actor="u1", collection_id=view.id))
        assert (coll.status, coll.document_count, coll.chunk_count) == (
            CollectionStatus.READY,
            2,
            5,
        )
        assert coll.active_operation_id is None

        before = self.snapshot(app.read_model)
        rebuilt = ReadModel(app)
        rebuilt.catch_up()
        assert self.snapshot(rebuilt) == before
        names = [
            type(app.mapper.to_domain_event(n)).__name__
            for n in app.recorder.select_notifications(1, 100)
        ]
        assert names.count("OperationProgressed") == 1  # coalesced

    def test_cancel_and_timeout(self, app: CollectionsApplication) -> None:
        view = self.create(app)
        op_id = self.add_source(app, view.id).operation.id
        cancelled = app.cancel_operation(commands.CancelOperation(actor="u1", operation_id=op_id))
        assert cancelled.status is OperationStatus.CANCELLED
        coll = app.get_collection(commands.GetCollection(actor="u1", collection_id=view.id))
        assert coll.status is CollectionStatus.ERROR and coll.active_operation_id is None
        second = app.start_operation(
            commands.StartOperation(actor="u1", collection_id=view.id, operation_type="index")
        )
        process = OperationProcess(app)
        assert process.expire(timeout_seconds=3600) == []
        assert process.expire(timeout_seconds=0) == [second.id]
        failed = app.get_operation(commands.GetOperation(actor="u1", operation_id=second.id))
        assert failed.status is OperationStatus.FAILED and "timed out" in (failed.error or "")

    def test_delete_cancels_the_running_operation(self, app: CollectionsApplication) -> None:
        view = self.create(app)
        op_id = self.add_source(app, view.id).operation.id
        app.delete_collection(commands.DeleteCollection(actor="u1", collection_id=view.id))
        with pytest.raises(CommandError) as err:
            app.get_collection(commands.GetCollection(actor="u1", collection_id=view.id))
        assert err.value.code is ErrorCode.NOT_FOUND
        assert app.read_model.operations[op_id].status is OperationStatus.CANCELLED
        assert app.list_collections(commands.ListCollections(actor="u1")).total == 0

    @staticmethod
    def snapshot(model: ReadModel) -> dict[str, Any]:
        from collections_service.projections import collection_view, operation_view, source_view

        return {
            "collections": {k: collection_view(v) for k, v in model.collections.items()},
            "operations": {k: operation_view(v) for k, v in model.operations.items()},
            "sources": {k: source_view(v) for k, v in model.sources.items()},
        }


class TestWithSQLite(CollectionsApplicationCase):
    @pytest.fixture
    def env(self, tmp_path: Path) -> dict[str, str]:
        return event_store_env("collections", None, tmp_path)


class TestWithPostgres(CollectionsApplicationCase):
    @pytest.fixture
    def env(self, database_url: str, tmp_path: Path) -> dict[str, str]:
        return event_store_env("collections", database_url, tmp_path)
