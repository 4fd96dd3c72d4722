"""The collections application on both event stores: operations (index, reindex,
cancel, remove a source, delete) and how the process manager folds ingest's and the
embedder's events into them."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from collections_service.application import CollectionsApplication
from collections_service.domain import Collection
from collections_service.operation_process import OperationProcess
from collections_service.projections import ReadModel
from collections_service.reindex_flow import activate_reindex
from semantik_contracts import CollectionStatus, ErrorCode, OperationStatus, commands, events
from semantik_runtime.errors import CommandError

from services.collections.tests.application_case import (
    CollectionsApplicationCase,
    OnPostgres,
    OnSQLite,
    code_of,
)

pytestmark = pytest.mark.integration


class OperationsCase(CollectionsApplicationCase):
    """Operations from request to completion, cancellation or failure."""

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

    def test_a_save_that_raised_after_it_landed_is_folded_by_the_next_flush(
        self, app: CollectionsApplication, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The database restarted as the operation's last event committed: the save is
        stored, its caller got an error, and the redelivered event finds the operation
        settled and saves nothing, so no later save of this process would fold it."""
        view, op_id, process = self.scanning(app)
        stats = events.ScanStats(total_files_found=1, new_documents=1, chunks=1, bytes=10)
        process.on_scan_completed(
            events.ScanCompleted(collection_id=view.id, operation_id=op_id, stats=stats)
        )
        save = app.save
        embedded = events.ChunksEmbedded(
            collection_id=view.id,
            operation_id=op_id,
            document_id=uuid4(),
            generation=1,
            chunk_count=1,
            work_id=f"{op_id}:w",
        )
        # Its precision known already (earlier work): the operation's is the save cut.
        process._record_precisions(view.id, [embedded])

        def landed_then_cut(*aggregates: object) -> object:
            save(*aggregates)  # type: ignore[arg-type]
            raise ConnectionError("server closed the connection unexpectedly")

        monkeypatch.setattr(app, "save", landed_then_cut)
        with pytest.raises(ConnectionError):
            process.on_chunks_embedded(embedded)
        monkeypatch.undo()
        process.on_chunks_embedded(embedded)  # redelivered: stored already, nothing saved
        assert self.operation(app, op_id).status is OperationStatus.PROCESSING
        process.flush_progress()
        assert self.operation(app, op_id).status is OperationStatus.COMPLETED
        fresh = ReadModel(app)
        fresh.catch_up()
        assert app.read_model.digest() == fresh.digest()

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
        collection: Collection = app.repository.get(view.id)
        assert collection.generations[2].chunk_size == 128
        assert collection.generations[2].chunk_overlap == 12
        self.finish(app, view, op.id, size=0, started_last=True)
        # All work is in: the reindex waits for validation; search still reads generation 1.
        # The scan's start, folded in last, does not take it back to "reprocessing".
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

    def test_a_collection_records_its_vectors_precision_and_a_reindex_changes_it(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        assert self.collection(app, view).embed_precision is None  # nothing embedded
        self.finish(app, view, self.add_source(app, view.id).operation.id, precision="int8")
        assert self.collection(app, view).embed_precision == "int8"
        # The same precision again records nothing (and loads no collection).
        version = app.repository.get(view.id).version
        again = events.ChunksEmbedded(
            collection_id=view.id,
            operation_id=uuid4(),
            document_id=uuid4(),
            generation=1,
            chunk_count=1,
            work_id="w",
            precision="int8",
        )
        OperationProcess(app)._record_precisions(view.id, [again])
        assert app.repository.get(view.id).version == version
        # A reindex (after SEMANTIK_EMBED_PRECISION changed) writes generation 2 in fp32,
        # and on two embedders that differ, bf16 too: search reads generation 1 until
        # the switch.
        start = commands.StartOperation(actor="u1", collection_id=view.id, operation_type="reindex")
        op = app.start_operation(start)
        self.finish(app, view, op.id, generation=2, precision="fp32", started_last=True)
        OperationProcess(app)._record_precisions(
            view.id, [again.model_copy(update={"generation": 2, "precision": "bf16"})]
        )
        assert self.collection(app, view).embed_precision == "int8"
        assert activate_reindex(app, op.id)
        coll = self.collection(app, view)
        assert (coll.active_generation, coll.embed_precision) == (2, "bf16+fp32")
        collection: Collection = app.repository.get(view.id)
        assert collection.precisions == {1: ["int8"], 2: ["bf16", "fp32"]}
        collection.drop_generation(1)  # the grace period over: its vectors and record go
        assert collection.precisions == {2: ["bf16", "fp32"]}
        # A precision for a generation the collection does not have is not recorded.
        pending = len(collection.pending_events)
        collection.record_precision(7, "int8")
        assert len(collection.pending_events) == pending and 7 not in collection.precisions

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


class TestWithSQLite(OnSQLite, OperationsCase):
    pass


class TestWithPostgres(OnPostgres, OperationsCase):
    pass
