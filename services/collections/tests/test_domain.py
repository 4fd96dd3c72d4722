"""The aggregates' rules, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from collections_service.domain import Collection
from collections_service.operation import Operation
from semantik_contracts import CollectionStatus, ErrorCode, OperationStatus, OperationType
from semantik_runtime.errors import CommandError

pytestmark = pytest.mark.unit


def new_collection() -> Collection:
    c = Collection(
        id=uuid4(),
        name="docs",
        description="",
        owner="u1",
        model_name="m",
        model_dimension=4,
        chunk_size=256,
        chunk_overlap=25,
    )
    c.activate_generation(c.open_generation())
    return c


def new_operation(c: Collection, op_type: OperationType = OperationType.INDEX) -> Operation:
    op_id = uuid4()
    c.attach_operation(op_id, op_type)
    return Operation(
        id=op_id,
        collection_id=c.id,
        operation_type=op_type.value,
        params={},
        requested_by="u1",
        source_ids=[],
        generation=1,
        model_name="m",
        chunk_size=256,
        chunk_overlap=25,
        requested_at=datetime.now(UTC),
    )


def test_a_new_collection_is_pending_with_generation_one_active() -> None:
    c = new_collection()
    assert c.status is CollectionStatus.PENDING
    assert c.active_generation == 1
    assert c.staging_generation is None


def test_a_second_operation_while_one_runs_is_a_conflict() -> None:
    c = new_collection()
    new_operation(c)
    with pytest.raises(CommandError) as err:
        new_operation(c, OperationType.APPEND)
    assert err.value.code is ErrorCode.CONFLICT
    assert "active operation" in err.value.message


def test_reindex_before_any_index_is_refused() -> None:
    c = new_collection()
    with pytest.raises(CommandError) as err:
        new_operation(c, OperationType.REINDEX)
    assert err.value.code is ErrorCode.CONFLICT


def test_first_index_success_makes_the_collection_ready_and_counts_documents() -> None:
    c = new_collection()
    op = new_operation(c)
    op.start()
    c.operation_started(op.operation_type)
    assert c.status is CollectionStatus.PENDING  # not searchable data yet
    op.record_scan({"new_documents": 2, "chunks": 3})
    assert op.record_embedded("d1:1", 2)
    assert not op.all_work_done
    assert op.record_embedded("d2:1", 1)
    assert op.all_work_done
    op.complete()
    c.operation_finished(op.id, succeeded=True, documents_delta=2, chunks_delta=3)
    assert c.status is CollectionStatus.READY
    assert (c.document_count, c.chunk_count) == (2, 3)
    assert c.active_operation_id is None
    assert op.status is OperationStatus.COMPLETED and op.progress == 1.0


def test_redelivered_embedding_events_are_counted_once() -> None:
    c = new_collection()
    op = new_operation(c)
    op.record_scan({"chunks": 4})
    assert op.record_embedded("d1:1", 2)
    assert not op.record_embedded("d1:1", 2)
    assert op.embedded_chunks == 2
    assert op.progress == 0.5


def test_failure_of_a_first_index_is_error_and_of_a_later_one_degraded() -> None:
    c = new_collection()
    op = new_operation(c)
    op.fail("boom")
    c.operation_finished(op.id, succeeded=False, reason="boom")
    assert c.status is CollectionStatus.ERROR
    c2 = new_collection()
    op2 = new_operation(c2)
    op2.complete()
    c2.operation_finished(op2.id, succeeded=True)
    op3 = new_operation(c2, OperationType.APPEND)
    op3.start()
    c2.operation_started(op3.operation_type)
    assert c2.status is CollectionStatus.PROCESSING
    op3.fail("disk full")
    c2.operation_finished(op3.id, succeeded=False, reason="disk full")
    assert c2.status is CollectionStatus.DEGRADED
    assert c2.status_reason == "disk full"


def test_a_finished_operation_cannot_be_cancelled() -> None:
    c = new_collection()
    op = new_operation(c)
    op.complete()
    with pytest.raises(CommandError) as err:
        op.cancel("late")
    assert err.value.code is ErrorCode.CONFLICT


def test_embedding_failures_are_kept_with_their_reason() -> None:
    c = new_collection()
    op = new_operation(c)
    op.record_scan({"chunks": 3, "failed": 1})
    op.record_embedded("d1:1", 2)
    assert op.record_failure("d2:1", "b.txt", "model crashed", chunk_count=1)
    assert op.all_work_done
    assert op.failed_documents == 2
    assert op.failures == [{"path": "b.txt", "reason": "model crashed"}]


def test_deleted_collection_refuses_commands() -> None:
    c = new_collection()
    c.delete("u1")
    with pytest.raises(CommandError) as err:
        c.update("x", None)
    assert err.value.code is ErrorCode.NOT_FOUND
