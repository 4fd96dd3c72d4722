"""The collections application on both event stores: one test case, two subclasses."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from collections_service.application import CollectionsApplication
from collections_service.domain import Collection
from collections_service.operation_process import OperationProcess
from collections_service.projections import ReadModel
from collections_service.quota import GIB, Quotas
from collections_service.reindex_flow import activate_reindex
from eventsourcing.persistence import StoredEvent
from semantik_contracts import CollectionStatus, ErrorCode, OperationStatus, commands, events
from semantik_runtime.errors import CommandError
from semantik_runtime.eventstore import event_store_env

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent / "fixtures"


def code_of(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(CommandError) as err:
        call()
    return err.value.code


class CollectionsApplicationCase:
    """Subclasses provide ``env``: the eventsourcing environment of one store."""

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
    ) -> None:
        """Feed the process manager what ingest and the embedder would say."""
        process = OperationProcess(app)
        process.on_scan_started(events.ScanStarted(collection_id=view.id, operation_id=op_id))
        stats = events.ScanStats(total_files_found=2, new_documents=2, chunks=chunks, bytes=size)
        process.on_scan_completed(
            events.ScanCompleted(collection_id=view.id, operation_id=op_id, stats=stats)
        )
        process.on_chunks_embedded(
            events.ChunksEmbedded(
                collection_id=view.id,
                operation_id=op_id,
                document_id=uuid4(),
                generation=1,
                chunk_count=chunks,
                work_id=f"{op_id}:w",
            )
        )

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
        assert code_of(lambda: self.create(app, "A")) is ErrorCode.CONFLICT
        self.create(app, "a", actor="u2")  # another owner may use the name
        self.create(app, "b")
        self.create(app, "c")
        with pytest.raises(CommandError) as err:
            self.create(app, "d")
        assert err.value.code is ErrorCode.QUOTA_EXCEEDED
        assert "at most 3 collections per user" in err.value.message

    def test_every_command_and_query_is_404_for_unknown_and_403_for_others(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        op_id = self.add_source(app, view.id).operation.id
        source_id = app.queries.list_sources(
            commands.ListSources(actor="u1", collection_id=view.id)
        )[0].id
        other = self.create(app, "theirs", actor="u2")
        unknown = uuid4()

        def on_collection(actor: str, cid: UUID) -> list[Callable[[], object]]:
            return [
                lambda: app.queries.get_collection(
                    commands.GetCollection(actor=actor, collection_id=cid)
                ),
                lambda: app.queries.list_operations(
                    commands.ListOperations(actor=actor, collection_id=cid)
                ),
                lambda: app.queries.list_sources(
                    commands.ListSources(actor=actor, collection_id=cid)
                ),
                lambda: app.update_collection(
                    commands.UpdateCollection(actor=actor, collection_id=cid, name="x")
                ),
                lambda: app.start_operation(
                    commands.StartOperation(actor=actor, collection_id=cid, operation_type="index")
                ),
                lambda: app.add_source(
                    commands.AddSource(actor=actor, collection_id=cid, path="/e"), "/e", "file"
                ),
                lambda: app.remove_source(
                    commands.RemoveSource(actor=actor, collection_id=cid, source_id=source_id)
                ),
                lambda: app.change_source_columns(
                    commands.ChangeSourceColumns(
                        actor=actor, collection_id=cid, source_id=source_id, text_columns=["t"]
                    )
                ),
                lambda: app.delete_collection(
                    commands.DeleteCollection(actor=actor, collection_id=cid)
                ),
            ]

        def on_operation(actor: str, oid: UUID) -> list[Callable[[], object]]:
            return [
                lambda: app.queries.get_operation(
                    commands.GetOperation(actor=actor, operation_id=oid)
                ),
                lambda: app.cancel_operation(
                    commands.CancelOperation(actor=actor, operation_id=oid)
                ),
            ]

        for call in on_collection("u2", view.id) + on_operation("u2", op_id):
            assert code_of(call) is ErrorCode.FORBIDDEN
        for call in on_collection("u1", unknown) + on_operation("u1", unknown):
            assert code_of(call) is ErrorCode.NOT_FOUND
        # A source of another collection, named under one's own, is not found there.
        for call in on_collection("u2", other.id)[6:8]:
            assert code_of(call) is ErrorCode.FORBIDDEN
        unknown_source = commands.RemoveSource(actor="u1", collection_id=view.id, source_id=unknown)
        assert code_of(lambda: app.remove_source(unknown_source)) is ErrorCode.NOT_FOUND
        # Nothing above changed anything.
        assert self.operation(app, op_id).status is OperationStatus.PENDING
        assert self.collection(app, view).name == "docs"

    def test_a_batch_of_embedding_events_folds_into_each_operation_once(
        self, app: CollectionsApplication
    ) -> None:
        view, op_id, process = self.scanning(app)
        stats = events.ScanStats(total_files_found=3, new_documents=3, chunks=6, bytes=600)
        process.on_scan_completed(
            events.ScanCompleted(collection_id=view.id, operation_id=op_id, stats=stats)
        )

        def embedded(work_id: str, chunks: int, operation: UUID = op_id) -> events.ChunksEmbedded:
            return events.ChunksEmbedded(
                collection_id=view.id,
                operation_id=operation,
                document_id=uuid4(),
                generation=1,
                chunk_count=chunks,
                work_id=work_id,
            )

        # A redelivery within the batch, and an event of an operation not known here.
        process.on_chunks_embedded_many(
            [embedded("w1", 2), embedded("w1", 2), embedded("w2", 1), embedded("x", 9, uuid4())]
        )
        op = self.operation(app, op_id)
        assert (op.status, op.processed) == (OperationStatus.PROCESSING, 3)
        process.on_chunks_embedded_many([embedded("w2", 1), embedded("w3", 3)])
        op = self.operation(app, op_id)
        assert (op.status, op.processed, op.progress) == (OperationStatus.COMPLETED, 6, 1.0)
        coll = self.collection(app, view)
        assert (coll.status, coll.document_count, coll.chunk_count) == (
            CollectionStatus.READY,
            3,
            6,
        )

    def test_index_flow_completes_and_the_read_models_rebuild_equal(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        started = self.add_source(app, view.id)
        op_id = started.operation.id
        assert started.operation.type == "index"
        assert code_of(lambda: self.add_source(app, view.id)) is ErrorCode.CONFLICT
        process = OperationProcess(app)
        process.on_scan_started(events.ScanStarted(collection_id=view.id, operation_id=op_id))
        assert self.operation(app, op_id).status is OperationStatus.PROCESSING
        so_far = events.ScanProgressed(
            collection_id=view.id,
            operation_id=op_id,
            files_found=2,
            files_done=1,
            stats=events.ScanStats(new_documents=1, chunks=3),
        )
        process.on_scan_progressed(so_far)
        assert self.operation(app, op_id).message.startswith("scanning: 1 of 2 files")
        embedded = events.ChunksEmbedded(
            collection_id=view.id,
            operation_id=op_id,
            document_id=uuid4(),
            generation=1,
            chunk_count=3,
            work_id="w1",
        )
        process.on_chunks_embedded(embedded)
        process.on_chunks_embedded(embedded)  # redelivered
        process.flush_progress()
        stats = events.ScanStats(total_files_found=2, new_documents=2, chunks=5, bytes=700)
        process.on_scan_completed(
            events.ScanCompleted(collection_id=view.id, operation_id=op_id, stats=stats)
        )
        op = self.operation(app, op_id)
        assert (op.status, op.processed, op.total) == (OperationStatus.PROCESSING, 3, 5)
        process.on_chunks_embedded(
            embedded.model_copy(update={"document_id": uuid4(), "chunk_count": 2, "work_id": "w2"})
        )
        op = self.operation(app, op_id)
        assert op.status is OperationStatus.COMPLETED and op.progress == 1.0
        coll = self.collection(app, view)
        assert (coll.status, coll.document_count, coll.chunk_count, coll.size_bytes) == (
            CollectionStatus.READY,
            2,
            5,
            700,
        )
        assert coll.active_operation_id is None
        usage = app.queries.get_usage(commands.GetUsage(actor="u1"))
        assert (usage.collections, usage.documents, usage.chunks, usage.size_bytes) == (
            1,
            2,
            5,
            700,
        )

        before = self.snapshot(app.read_model)
        rebuilt = app.queries.rebuild()
        assert rebuilt.digest_after == rebuilt.digest_before
        assert (rebuilt.collections, rebuilt.operations, rebuilt.sources) == (1, 1, 1)
        assert self.snapshot(app.read_model) == before
        fresh = ReadModel(app)
        fresh.catch_up()
        assert fresh.digest() == rebuilt.digest_after
        names = [
            type(app.mapper.to_domain_event(n)).__name__
            for n in app.recorder.select_notifications(1, 100)
        ]
        assert names.count("OperationProgressed") == 1  # coalesced

    def test_a_scan_in_progress_is_reported_on_its_operation(
        self, app: CollectionsApplication
    ) -> None:
        view, op_id, process = self.scanning(app)
        so_far = events.ScanStats(new_documents=2, unchanged_skipped=1)
        process.on_scan_progressed(
            events.ScanProgressed(
                collection_id=view.id,
                operation_id=op_id,
                files_found=10,
                files_done=3,
                stats=so_far,
            )
        )
        process.flush_progress()
        op = self.operation(app, op_id)
        assert op.message == "scanning: 3 of 10 files; 2 new, 1 skipped, 0 failed"
        assert op.status is OperationStatus.PROCESSING
        self.finish(app, view, op_id)
        late = events.ScanProgressed(
            collection_id=view.id, operation_id=op_id, files_found=10, files_done=9, stats=so_far
        )
        process.on_scan_progressed(late)  # after its scan completed: nothing changes
        assert self.operation(app, op_id).message == "completed"

    def test_the_size_limit_stops_new_data_and_a_reindex_without_room(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        self.finish(app, view, self.add_source(app, view.id).operation.id, size=600)
        with pytest.raises(CommandError) as err:  # 600 + a 600 bytes staging copy > 1 KiB
            app.start_operation(
                commands.StartOperation(actor="u1", collection_id=view.id, operation_type="reindex")
            )
        assert err.value.code is ErrorCode.TOO_LARGE and "staging copy" in err.value.message
        op_id = self.add_source(app, view.id, "/more").operation.id
        self.finish(app, view, op_id, size=500)
        assert self.collection(app, view).size_bytes == 1100
        with pytest.raises(CommandError) as err:
            self.add_source(app, view.id, "/even-more")
        assert err.value.code is ErrorCode.TOO_LARGE
        assert "size limit of 9.53674e-07 GB (COLLECTION_SIZE_LIMIT_GB)" in err.value.message
        index = commands.StartOperation(actor="u1", collection_id=view.id, operation_type="index")
        assert code_of(lambda: app.start_operation(index)) is ErrorCode.TOO_LARGE

    def test_reindex_writes_a_staging_generation_and_activates_it(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        self.finish(app, view, self.add_source(app, view.id).operation.id, size=100)
        start = commands.StartOperation(
            actor="u1", collection_id=view.id, operation_type="reindex", params={"chunk_size": 128}
        )
        op = app.start_operation(start)
        coll = self.collection(app, view)
        assert (coll.active_generation, coll.staging_generation) == (1, 2)
        assert coll.chunk_size == 256  # the active generation's, until the switch
        assert code_of(lambda: app.start_operation(start)) is ErrorCode.CONFLICT
        collection: Collection = app.repository.get(view.id)
        assert collection.generations[2].chunk_size == 128
        assert collection.generations[2].chunk_overlap == 12
        self.finish(app, view, op.id, size=0)
        # All work is in: the reindex waits for validation; search still reads generation 1.
        assert self.operation(app, op.id).message.startswith("validation")
        coll = self.collection(app, view)
        assert (coll.active_generation, coll.staging_generation) == (1, 2)
        assert activate_reindex(app, op.id)  # validated (reindex_flow.py)
        assert not activate_reindex(app, op.id)
        coll = self.collection(app, view)
        assert (coll.active_generation, coll.staging_generation, coll.chunk_size) == (2, None, 128)
        assert coll.chunk_count == 5  # the new generation's chunks, not old plus new
        assert coll.status is CollectionStatus.READY
        bad = start.model_copy(update={"params": {"chunk_size": "big"}})
        assert code_of(lambda: app.start_operation(bad)) is ErrorCode.INVALID

    def test_cancel_keeps_work_already_done_and_timeout_fails(
        self, app: CollectionsApplication
    ) -> None:
        view, op_id, process = self.scanning(app)
        cancelled = app.cancel_operation(commands.CancelOperation(actor="u1", operation_id=op_id))
        assert cancelled.status is OperationStatus.CANCELLED
        assert cancelled.error == "cancelled by u1"
        coll = self.collection(app, view)
        assert coll.status is CollectionStatus.PENDING and coll.active_operation_id is None
        again = commands.CancelOperation(actor="u1", operation_id=op_id)
        assert code_of(lambda: app.cancel_operation(again)) is ErrorCode.CONFLICT
        # The stopped scan reports what it did; its queued work still lands and counts.
        self.finish(app, view, op_id, chunks=2, size=40)
        coll = self.collection(app, view)
        assert (coll.document_count, coll.chunk_count, coll.size_bytes) == (2, 2, 40)
        assert self.operation(app, op_id).status is OperationStatus.CANCELLED

        second = app.start_operation(
            commands.StartOperation(actor="u1", collection_id=view.id, operation_type="index")
        )
        assert process.expire(timeout_seconds=3600) == []
        assert process.expire(timeout_seconds=0) == [second.id]
        failed = self.operation(app, second.id)
        assert failed.status is OperationStatus.FAILED
        assert "timed out after 0 s (OPERATION_TIMEOUT_SECONDS)" in (failed.error or "")
        assert self.collection(app, view).status is CollectionStatus.ERROR

    def test_remove_source_and_delete_are_operations(self, app: CollectionsApplication) -> None:
        view = self.create(app)
        added = self.add_source(app, view.id)
        self.finish(app, view, added.operation.id)
        removed = app.remove_source(
            commands.RemoveSource(actor="u1", collection_id=view.id, source_id=added.source.id)
        )
        assert removed.operation.type == "remove_source"
        assert removed.operation.status is OperationStatus.PENDING
        listed = app.queries.list_sources(commands.ListSources(actor="u1", collection_id=view.id))
        assert listed == []
        assert self.collection(app, view).active_operation_id == removed.operation.id

        app.delete_collection(commands.DeleteCollection(actor="u1", collection_id=view.id))
        assert code_of(lambda: self.collection(app, view)) is ErrorCode.NOT_FOUND
        assert app.read_model.operations[removed.operation.id].status is OperationStatus.CANCELLED
        page = app.queries.list_operations(commands.ListOperations(actor="u1"))
        assert [(o.type, o.status) for o in page.items] == [
            ("delete", "completed"),
            ("remove_source", "cancelled"),
            ("index", "completed"),
        ]
        listed_collections = app.queries.list_collections(commands.ListCollections(actor="u1"))
        assert listed_collections.total == 0

    def test_several_collections_are_read_in_one_query_in_the_order_asked(
        self, app: CollectionsApplication
    ) -> None:
        docs, notes = self.create(app), self.create(app, "notes")
        theirs = self.create(app, "theirs", actor="u2")

        def ask(*ids: UUID) -> list[UUID]:
            query = commands.GetCollections(actor="u1", collection_ids=list(ids))
            return [view.id for view in app.queries.get_collections(query).items]

        assert ask(notes.id, docs.id) == [notes.id, docs.id]
        assert code_of(lambda: ask(docs.id, theirs.id)) == ErrorCode.FORBIDDEN
        assert code_of(lambda: ask(uuid4(), docs.id)) == ErrorCode.NOT_FOUND

    def test_the_audit_log_has_accepted_and_rejected_commands(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        self.create(app, "theirs", actor="u2")
        with pytest.raises(CommandError):
            self.create(app, "DOCS")
        with pytest.raises(CommandError):
            app.queries.get_collection(commands.GetCollection(actor="u2", collection_id=view.id))
        with pytest.raises(CommandError):
            app.delete_collection(commands.DeleteCollection(actor="u2", collection_id=view.id))
        self.finish(app, view, self.add_source(app, view.id).operation.id)

        mine = app.queries.get_audit(commands.GetAudit(actor="u1")).items
        # The owner also sees what others did, or tried, on the collection.
        assert [(e.action, e.outcome, e.actor) for e in mine] == [
            ("operation.completed", "completed", "system"),
            ("source.add", "accepted", "u1"),
            ("collection.delete", "rejected", "u2"),
            ("collection.create", "rejected", "u1"),
            ("collection.create", "accepted", "u1"),
        ]
        assert mine[3].code == "conflict" and "exists" in mine[3].message
        assert mine[4].collection_id == view.id
        theirs = app.queries.get_audit(commands.GetAudit(actor="u2", outcome="rejected")).items
        assert [(e.action, e.code, e.target_id) for e in theirs] == [
            ("collection.delete", "forbidden", view.id)  # queries are not audited
        ]

    def test_a_rejection_that_cannot_be_audited_still_reaches_the_user(
        self, app: CollectionsApplication, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.create(app, "a")

        def store_down(*_: object) -> None:
            raise OSError("the event store is down")

        monkeypatch.setattr(app, "save", store_down)
        assert code_of(lambda: self.create(app, "A")) is ErrorCode.CONFLICT

    def test_events_written_by_an_earlier_build_load_upcast(
        self, app: CollectionsApplication
    ) -> None:
        """v1 ``CollectionCountsChanged`` had no ``size_bytes``; v2 loads it as 0."""
        written = json.loads((FIXTURES / "events_v1.json").read_text())
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
        cid = UUID(written["collection_id"])
        counts = [
            app.mapper.to_domain_event(n)
            for n in app.recorder.select_notifications(1, 100)
            if n.topic.endswith("CollectionCountsChanged")
        ]
        assert [(e.chunk_count, e.size_bytes) for e in counts] == [(5, 0)]
        old = app.queries.get_collection(commands.GetCollection(actor="alice", collection_id=cid))
        assert (old.status, old.document_count, old.chunk_count, old.size_bytes) == (
            CollectionStatus.READY,
            2,
            5,
            0,
        )
        # The upgraded build carries on from there: an append is counted in v2 events.
        cmd = commands.AddSource(actor="alice", collection_id=cid, path="/srv/more")
        op = app.add_source(cmd, "/srv/more", "directory").operation
        assert op.type == "append"
        self.finish(app, old, op.id, chunks=4, size=900)
        now = app.queries.get_collection(commands.GetCollection(actor="alice", collection_id=cid))
        assert (now.document_count, now.chunk_count, now.size_bytes) == (4, 9, 900)
        stored = [
            json.loads(n.state)
            for n in app.recorder.select_notifications(1, 200)
            if n.topic.endswith("CollectionCountsChanged")
        ]
        assert [s.get("class_version", 1) for s in stored] == [1, 2]  # the version is stored

    @staticmethod
    def snapshot(model: ReadModel) -> dict[str, Any]:
        from collections_service.projections import collection_view, operation_view, source_view

        return {
            "collections": {k: collection_view(v) for k, v in model.collections.items()},
            "operations": {k: operation_view(v) for k, v in model.operations.items()},
            "sources": {k: source_view(v) for k, v in model.sources.items()},
            "audit": list(model.audit),
        }


class TestWithSQLite(CollectionsApplicationCase):
    @pytest.fixture
    def env(self, tmp_path: Path) -> dict[str, str]:
        return event_store_env("collections", None, tmp_path)


class TestWithPostgres(CollectionsApplicationCase):
    @pytest.fixture
    def env(self, database_url: str, tmp_path: Path) -> dict[str, str]:
        return event_store_env("collections", database_url, tmp_path)
