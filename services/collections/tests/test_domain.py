"""The aggregates' rules and status machines, without I/O."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from collections_service.domain import Collection, CountDelta, Source
from collections_service.operation import Operation
from collections_service.operation_process import RESUME_PART, Stall, resume_parts
from collections_service.quota import Quotas
from collections_service.status import (
    ADMITTED_FROM,
    COLLECTION_TRANSITIONS,
    IllegalTransition,
    check_collection_transition,
)
from semantik_contracts import CollectionStatus, ErrorCode, OperationStatus, OperationType
from semantik_runtime.errors import CommandError

pytestmark = pytest.mark.unit

S = CollectionStatus
T = OperationType


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


def new_operation(c: Collection, op_type: OperationType = T.INDEX) -> Operation:
    op_id = uuid4()
    c.attach_operation(op_id, op_type)
    return Operation(
        id=op_id,
        collection_id=c.id,
        operation_type=op_type.value,
        params={},
        requested_by="u1",
        source_ids=[],
        generation=c.staging_generation or 1,
        model_name="m",
        chunk_size=256,
        chunk_overlap=25,
        requested_at=datetime.now(UTC),
    )


def run(c: Collection, op_type: OperationType, outcome: OperationStatus, chunks: int = 0) -> None:
    """Attach, start and end one operation the way the process manager does."""
    op = new_operation(c, op_type)
    op.start()
    c.operation_started(op.operation_type)
    if outcome is OperationStatus.COMPLETED:
        op.record_scan({"chunks": chunks, "new_documents": 1 if chunks else 0, "bytes": 100})
        if chunks:
            op.record_embedded("w", chunks)
        op.complete()
        c.operation_finished(op.id, outcome, counts=op.count_delta())
    elif outcome is OperationStatus.FAILED:
        op.fail("boom")
        c.operation_finished(op.id, outcome, "boom")
    else:
        op.cancel("by u1")
        c.operation_finished(op.id, outcome, "cancelled")


def ready_collection() -> Collection:
    c = new_collection()
    run(c, T.INDEX, OperationStatus.COMPLETED, chunks=3)
    assert c.status is S.READY
    return c


def test_a_new_collection_is_pending_with_generation_one_active() -> None:
    c = new_collection()
    assert c.status is S.PENDING
    assert c.active_generation == 1
    assert c.staging_generation is None


def test_a_second_operation_while_one_runs_is_a_typed_conflict() -> None:
    c = new_collection()
    new_operation(c)
    with pytest.raises(IllegalTransition) as err:
        new_operation(c, T.APPEND)
    assert err.value.code is ErrorCode.CONFLICT
    assert "already has an active operation (index)" in err.value.message


def test_reindex_while_indexing_or_before_any_index_is_refused() -> None:
    c = new_collection()
    with pytest.raises(IllegalTransition, match="needs a first completed index"):
        new_operation(c, T.REINDEX)
    ready = ready_collection()
    new_operation(ready, T.APPEND)
    with pytest.raises(IllegalTransition, match="active operation"):
        new_operation(ready, T.REINDEX)


@pytest.mark.parametrize(
    ("op_type", "running"),
    [
        (T.INDEX, S.PROCESSING),
        (T.APPEND, S.PROCESSING),
        (T.REMOVE_SOURCE, S.PROCESSING),
        (T.REINDEX, S.REINDEXING),
    ],
)
@pytest.mark.parametrize(
    ("outcome", "after"),
    [
        (OperationStatus.COMPLETED, S.READY),
        (OperationStatus.FAILED, S.DEGRADED),
        (OperationStatus.CANCELLED, S.READY),
    ],
)
def test_every_operation_type_on_a_ready_collection(
    op_type: OperationType,
    running: CollectionStatus,
    outcome: OperationStatus,
    after: CollectionStatus,
) -> None:
    c = ready_collection()
    if op_type is T.REINDEX:
        c.open_generation("m2", 8, 128, 12)
    op = new_operation(c, op_type)
    op.start()
    c.operation_started(op.operation_type)
    assert c.status is running
    if outcome is OperationStatus.COMPLETED:
        op.complete()
    elif outcome is OperationStatus.FAILED:
        op.fail("boom")
    else:
        op.cancel("by u1")
    c.operation_finished(op.id, outcome)
    assert c.status is after
    assert c.active_operation_id is None


def test_first_index_failure_is_error_then_a_retry_makes_it_ready() -> None:
    c = new_collection()
    run(c, T.INDEX, OperationStatus.FAILED)
    assert c.status is S.ERROR and c.status_reason == "boom"
    with pytest.raises(IllegalTransition, match="needs a first completed index"):
        new_operation(c, T.REINDEX)
    op = new_operation(c, T.INDEX)
    op.start()
    c.operation_started(op.operation_type)
    assert c.status is S.PENDING  # retrying; nothing searchable yet
    op.complete()
    c.operation_finished(op.id, OperationStatus.COMPLETED)
    assert c.status is S.READY


def test_cancelling_returns_to_the_status_before_the_operation() -> None:
    c = new_collection()
    run(c, T.INDEX, OperationStatus.CANCELLED)
    assert c.status is S.PENDING  # a cancelled first index is not an error
    degraded = ready_collection()
    run(degraded, T.APPEND, OperationStatus.FAILED)
    assert degraded.status is S.DEGRADED
    run(degraded, T.APPEND, OperationStatus.CANCELLED)
    assert degraded.status is S.DEGRADED
    run(degraded, T.INDEX, OperationStatus.COMPLETED)
    assert degraded.status is S.READY


def test_the_transition_table_refuses_what_spec_does_not_allow() -> None:
    with pytest.raises(IllegalTransition, match="a pending collection cannot become processing"):
        check_collection_transition(S.PENDING, S.PROCESSING)
    with pytest.raises(IllegalTransition):
        check_collection_transition(S.ERROR, S.READY)
    check_collection_transition(S.READY, S.READY)  # no change is always fine
    # Every status can be left, and every operation type is admitted from some status.
    assert all(COLLECTION_TRANSITIONS[s] for s in S)
    assert all(ADMITTED_FROM[t] for t in T)


def test_reindex_completes_by_activating_staging_and_failing_drops_it() -> None:
    c = ready_collection()
    c.open_generation("m2", 8, 128, 12)
    assert (c.active_generation, c.staging_generation) == (1, 2)
    with pytest.raises(IllegalTransition, match="already has staging generation 2"):
        c.open_generation()
    op = new_operation(c, T.REINDEX)
    op.start()
    c.operation_started(op.operation_type)
    op.complete()
    c.operation_finished(op.id, OperationStatus.COMPLETED)
    assert (c.active_generation, c.staging_generation) == (2, None)
    assert (c.model_name, c.model_dimension, c.chunk_size, c.chunk_overlap) == ("m2", 8, 128, 12)
    assert c.retired_generations == [1]
    with pytest.raises(IllegalTransition, match="generation 2 is active"):
        c.drop_generation(2)
    c.drop_generation(1)
    assert c.retired_generations == []

    c.open_generation()
    failed = new_operation(c, T.REINDEX)
    failed.start()
    c.operation_started(failed.operation_type)
    failed.fail("validation: 3 points, 4 chunks expected")
    c.operation_finished(failed.id, OperationStatus.FAILED, "validation failed")
    assert (c.active_generation, c.staging_generation, c.status) == (2, None, S.DEGRADED)
    assert c.model_name == "m2"  # the old generation keeps serving with its settings
    with pytest.raises(IllegalTransition, match="not staging"):
        c.activate_generation(3)


def test_a_copied_operation_is_independent_of_the_original() -> None:
    """The repository hands out deep copies of cached aggregates (its own ``counted``
    copy is a plain set copy): a copy counts on its own, and its events apply as before."""
    c = new_collection()
    op = new_operation(c)
    op.record_scan({"chunks": 5})
    op.record_embedded("d1:1", 2)
    op.record_failure("d2:1", "b.md", "bad", 1)
    op.collect_events()
    copied = copy.deepcopy(op)
    assert copied.__dict__.keys() == op.__dict__.keys()
    assert (copied.id, copied.version, copied.counted) == (op.id, op.version, op.counted)
    assert copied.failures == op.failures and copied.failures is not op.failures
    assert copied.scan_stats == op.scan_stats and copied.scan_stats is not op.scan_stats
    assert copied.record_embedded("d3:1", 2) and copied.all_work_done
    assert not copied.record_embedded("d1:1", 2)
    assert "d3:1" not in op.counted and op.embedded_chunks == 2 and not op.all_work_done
    [tallied] = copied.collect_events()
    assert tallied.originator_version == op.version + 1


def test_redelivered_embedding_events_are_counted_once() -> None:
    c = new_collection()
    op = new_operation(c)
    op.record_scan({"chunks": 4})
    assert op.record_embedded("d1:1", 2)
    assert not op.record_embedded("d1:1", 2)
    assert op.embedded_chunks == 2
    assert op.progress == 0.5


def test_a_cancelled_operation_counts_its_late_work_once_and_settles() -> None:
    c = ready_collection()
    op = new_operation(c, T.APPEND)
    op.start()
    c.operation_started(op.operation_type)
    op.cancel("by u1")
    c.operation_finished(op.id, OperationStatus.CANCELLED)
    assert op.counting  # work queued before the cancel still lands
    op.record_scan({"chunks": 2, "new_documents": 1, "bytes": 50, "stopped": True})
    assert op.record_embedded("w2", 2) and op.all_work_done
    c.apply_counts(op.settle())
    assert (c.document_count, c.chunk_count, c.size_bytes) == (2, 5, 150)
    assert not op.counting and not op.record_embedded("w3", 1)


def test_a_finished_operation_cannot_be_cancelled() -> None:
    c = new_collection()
    op = new_operation(c)
    op.complete()
    with pytest.raises(IllegalTransition) as err:
        op.cancel("late")
    assert err.value.code is ErrorCode.CONFLICT
    assert "already completed" in err.value.message


def test_embedding_failures_are_kept_with_their_reason() -> None:
    c = new_collection()
    op = new_operation(c)
    op.record_scan({"chunks": 3, "failed": 1})
    assert op.record_failure("failed:a.pdf", "a.pdf", "corrupt PDF")
    op.record_embedded("d1:1", 2)
    assert op.record_failure("d2:1", "b.txt", "model crashed", chunk_count=1)
    assert op.all_work_done
    assert op.failed_documents == 2
    assert op.failures == [
        {"path": "a.pdf", "reason": "corrupt PDF"},
        {"path": "b.txt", "reason": "model crashed"},
    ]


def test_the_scans_end_before_its_file_failures_waits_for_them() -> None:
    # ScanCompleted and DocumentFailed come through consumers of their own.
    c = new_collection()
    op = new_operation(c)
    op.record_embedded("d1:1", 1)
    op.record_scan({"chunks": 1, "failed": 2})
    assert not op.all_work_done  # both failures still to come: they must be listed
    assert op.record_failure("failed:a.pdf", "a.pdf", "corrupt PDF")
    assert not op.all_work_done
    assert not op.record_failure("failed:a.pdf", "a.pdf", "corrupt PDF")  # redelivered
    assert not op.all_work_done
    assert op.record_failure("failed:b.txt", "b.txt", "empty document")
    assert op.all_work_done
    assert [f["path"] for f in op.failures] == ["a.pdf", "b.txt"]


def test_deleted_collection_refuses_commands() -> None:
    c = new_collection()
    c.delete("u1")
    with pytest.raises(CommandError) as err:
        c.update("x", None)
    assert err.value.code is ErrorCode.NOT_FOUND


def test_counts_never_go_negative() -> None:
    c = ready_collection()
    c.apply_counts(CountDelta(documents=-5, chunks=-9, size_bytes=-1000))
    assert (c.document_count, c.chunk_count, c.size_bytes) == (0, 0, 0)


def test_columns_apply_to_record_sources_only() -> None:
    table = Source(uuid4(), uuid4(), "file", "/t.csv", ["a"], [], None)
    table.change_columns(["b"], ["c"], "id")
    assert (table.text_columns, table.context_columns, table.id_column) == (["b"], ["c"], "id")
    folder = Source(uuid4(), uuid4(), "directory", "/docs", [], [], None)
    with pytest.raises(CommandError) as err:
        folder.change_columns(["b"], [], None)
    assert err.value.code is ErrorCode.INVALID


def test_quotas_name_their_limits() -> None:
    quotas = Quotas(max_collections_per_user=2, collection_size_limit_gb=1)
    quotas.check_new_collection(1)
    with pytest.raises(CommandError) as err:
        quotas.check_new_collection(2)
    assert err.value.code is ErrorCode.QUOTA_EXCEEDED
    assert "at most 2 collections per user" in err.value.message
    gib = 1024**3
    quotas.check_room("docs", gib - 1)
    with pytest.raises(CommandError) as err:
        quotas.check_room("docs", gib)
    assert err.value.code is ErrorCode.TOO_LARGE and "limit of 1 GB" in err.value.message
    quotas.check_reindex_reservation("docs", gib // 2)
    with pytest.raises(CommandError) as err:
        quotas.check_reindex_reservation("docs", gib // 2 + 1)
    assert err.value.code is ErrorCode.TOO_LARGE
    assert "staging copy" in err.value.message and "1.00 GB while both" in err.value.message


@pytest.mark.reliability
def test_a_large_stalled_operation_is_resumed_in_parts_that_fit_a_message() -> None:
    """``ResumeWork`` carries the work ids an operation counted; past ``RESUME_PART`` of
    them it goes in parts by document id prefix, each part with its own ids only."""
    op = uuid4()
    done = [f"{op}:{uuid4()}:g1" for _ in range(RESUME_PART + 1)]
    parts = resume_parts(Stall(op, uuid4(), [*done, "failed:/sources/broken.pdf"]))
    assert [prefix for prefix, _ in parts] == list("0123456789abcdef")
    assert sorted(key for _, keys in parts for key in keys) == sorted(done)  # no scan failure
    for prefix, keys in parts:
        assert all(key.startswith(f"{op}:{prefix}") for key in keys)
        assert len(keys) < RESUME_PART
    assert resume_parts(Stall(op, uuid4(), done[:3])) == [("", done[:3])]
