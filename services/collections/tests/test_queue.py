"""A queue of operations per collection (SPEC §12), on the application and its log:
a busy collection queues new operations in order, starts the next when one ends,
cancels queued ones, caps the queue, and keeps it across a restart of the process."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from collections_service.application import CollectionsApplication
from collections_service.operation import Operation
from collections_service.operation_process import OperationProcess
from semantik_contracts import ErrorCode, OperationStatus, commands, events
from semantik_runtime.errors import CommandError
from semantik_runtime.eventstore import event_store_env
from semantik_runtime.relay import envelope_for

from services.collections.tests.application_case import CollectionsApplicationCase, code_of

pytestmark = pytest.mark.integration


def published(app: CollectionsApplication, operation_id: UUID) -> list[str]:
    """The contract events the relay publishes for one operation, in order."""
    names = []
    for domain_event in app.events.get(operation_id):
        envelope = envelope_for(domain_event)
        if envelope is not None:
            names.append(envelope.event.type)
    return names


class TestQueue(CollectionsApplicationCase):
    @pytest.fixture
    def env(self, tmp_path: Path) -> dict[str, str]:
        return event_store_env("collections", None, tmp_path)

    def three(self, app: CollectionsApplication) -> tuple[Any, list[Any]]:
        """A collection given three sources at once: one runs, two wait."""
        view = self.create(app)
        return view, [self.add_source(app, view.id, f"/d{n}").operation for n in range(3)]

    def operation_ids(self, app: CollectionsApplication, view: Any) -> list[UUID]:
        listed = app.queries.list_operations(
            commands.ListOperations(actor="u1", collection_id=view.id)
        )
        return [o.id for o in listed.items]

    def positions(self, app: CollectionsApplication, ids: list[UUID]) -> list[Any]:
        return [(o.status, o.queue_position) for o in (self.operation(app, i) for i in ids)]

    def test_busy_collection_queues_in_order_and_starts_the_next_when_one_ends(
        self, app: CollectionsApplication
    ) -> None:
        view, ops = self.three(app)
        ids = [op.id for op in ops]
        assert [(op.status, op.queue_position) for op in ops] == [
            (OperationStatus.PENDING, None),
            (OperationStatus.QUEUED, 1),
            (OperationStatus.QUEUED, 2),
        ]
        assert published(app, ids[1]) == ["OperationQueued"]
        listed = app.queries.list_operations(
            commands.ListOperations(actor="u1", collection_id=view.id, status="queued")
        )
        assert sorted(o.queue_position for o in listed.items) == [1, 2]
        self.finish(app, view, ids[0])
        # The first's end started the second in the same transaction; the third moved up.
        assert self.positions(app, ids) == [
            (OperationStatus.COMPLETED, None),
            (OperationStatus.PENDING, None),
            (OperationStatus.QUEUED, 1),
        ]
        second: Operation = app.repository.get(ids[1])
        assert (second.generation, second.model_name) == (1, view.model_name)
        assert published(app, ids[1]) == ["OperationQueued", "OperationRequested"]
        requested = envelope_for(list(app.events.get(ids[1]))[1])
        assert requested is not None
        assert requested.event.model_dump()["generation"] == 1
        self.finish(app, view, ids[1])
        self.finish(app, view, ids[2])
        assert [o[0] for o in self.positions(app, ids)] == [OperationStatus.COMPLETED] * 3
        for op_id in ids:  # each requested from ingest exactly once
            assert published(app, op_id).count("OperationRequested") == 1
        assert self.collection(app, view).document_count == 6

    def test_a_queued_operation_cancelled_never_starts_and_the_rest_move_up(
        self, app: CollectionsApplication
    ) -> None:
        view, ops = self.three(app)
        ids = [op.id for op in ops]
        cancel = commands.CancelOperation(actor="u1", operation_id=ids[1])
        cancelled = app.cancel_operation(cancel)
        assert (cancelled.status, cancelled.queue_position) == (OperationStatus.CANCELLED, None)
        assert cancelled.error == "cancelled by u1" and cancelled.started_at is None
        assert self.operation(app, ids[2]).queue_position == 1
        with pytest.raises(CommandError) as err:
            app.cancel_operation(cancel)
        assert err.value.code is ErrorCode.CONFLICT
        assert "already cancelled" in err.value.message
        self.finish(app, view, ids[0])
        assert self.operation(app, ids[2]).status is OperationStatus.PENDING
        assert published(app, ids[1]) == ["OperationQueued", "OperationCancelled"]

    def test_the_cap_is_a_409_naming_it_and_records_nothing(self, tmp_path: Path) -> None:
        env = event_store_env("collections", None, tmp_path)
        app = CollectionsApplication(env=env, quotas=self.quotas, max_queued_operations=2)
        try:
            view, _ = self.three(app)
            before = app.recorder.max_notification_id()
            with pytest.raises(CommandError) as err:
                self.add_source(app, view.id, "/d3")
            assert err.value.code is ErrorCode.CONFLICT
            assert "SEMANTIK_MAX_QUEUED_OPERATIONS (2)" in err.value.message
            assert "2 queued operations" in err.value.message
            # Only the refusal's audit entry: no source, no operation.
            assert app.recorder.max_notification_id() == (before or 0) + 1
            sources = app.queries.list_sources(
                commands.ListSources(actor="u1", collection_id=view.id)
            )
            assert [s.path for s in sources] == ["/d0", "/d1", "/d2"]
            index = commands.StartOperation(
                actor="u1", collection_id=view.id, operation_type="index"
            )
            assert code_of(lambda: app.start_operation(index)) is ErrorCode.CONFLICT
        finally:
            app.close()

    def test_deleting_the_collection_cancels_its_queue(self, app: CollectionsApplication) -> None:
        view, ops = self.three(app)
        app.delete_collection(commands.DeleteCollection(actor="u1", collection_id=view.id))
        for op in ops:
            ended: Operation = app.repository.get(op.id)
            assert ended.status is OperationStatus.CANCELLED
            assert ended.error == "the collection was deleted"
        assert published(app, ops[2].id) == ["OperationQueued", "OperationCancelled"]

    def test_the_queue_survives_a_restart_and_each_operation_runs_once(
        self, tmp_path: Path
    ) -> None:
        env = event_store_env("collections", None, tmp_path)
        first = CollectionsApplication(env=env, quotas=self.quotas)
        view, ops = self.three(first)
        ids = [op.id for op in ops]
        first.close()  # as after a kill: only the log remains
        app = CollectionsApplication(env=env, quotas=self.quotas)
        try:
            assert [p for _, p in self.positions(app, ids)] == [None, 1, 2]
            process = OperationProcess(app)
            assert process.advance_queues() == 0  # busy: nothing to start twice
            self.finish(app, view, ids[0])
            assert process.advance_queues() == 0
            self.finish(app, view, ids[1])
            self.finish(app, view, ids[2])
            for op_id in ids:
                assert published(app, op_id).count("OperationRequested") == 1
                assert published(app, op_id)[-1] == "OperationCompleted"
        finally:
            app.close()

    def test_a_queued_head_that_cannot_start_fails_and_the_next_starts(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        reindex_cmd = commands.StartOperation(
            actor="u1", collection_id=view.id, operation_type="reindex"
        )
        self.add_source(app, view.id)
        # Refused at once, not queued: the collection was never indexed.
        assert code_of(lambda: app.start_operation(reindex_cmd)) is ErrorCode.CONFLICT
        self.finish(app, view, self.operation_ids(app, view)[0], size=300)
        append = self.add_source(app, view.id, "/e").operation
        reindex = app.start_operation(reindex_cmd)  # 2 x 300 bytes fit the 1 KiB limit
        last = self.add_source(app, view.id, "/f").operation
        assert (reindex.status, reindex.queue_position) == (OperationStatus.QUEUED, 1)
        self.finish(app, view, append.id, size=300)  # now 2 x 600 bytes do not
        failed = self.operation(app, reindex.id)
        assert failed.status is OperationStatus.FAILED and failed.started_at is None
        assert "could not start: reindex of collection 'docs' needs room" in (failed.error or "")
        assert self.operation(app, last.id).status is OperationStatus.PENDING
        bad = commands.StartOperation(
            actor="u1",
            collection_id=view.id,
            operation_type="reindex",
            params={"model_name": "no-such-model"},
        )
        assert code_of(lambda: app.start_operation(bad)) is ErrorCode.INVALID  # checked now

    def test_the_watchdogs_leave_queued_operations_alone(self, app: CollectionsApplication) -> None:
        view, ops = self.three(app)
        process = OperationProcess(app)
        process.on_scan_started(events.ScanStarted(collection_id=view.id, operation_id=ops[0].id))
        assert [s.operation_id for s in process.stalled(0.0, now=1e12)] == [ops[0].id]
        assert process.expire(0.0) == [ops[0].id]  # only the running one times out
        # Its failure started the next; the last still waits.
        assert self.positions(app, [op.id for op in ops])[1:] == [
            (OperationStatus.PENDING, None),
            (OperationStatus.QUEUED, 1),
        ]
