"""Snapshots of the collections application's long-lived aggregates (SPEC §14), on both
event stores: a snapshot restores exactly what the events build, loading reads the
latest snapshot and the events after it, and an operation reloaded so still counts each
work item once. ``snapshot_timing.py`` times loading a large operation with and without
snapshots (a measurement, run by hand: ``python -m services.collections.tests.snapshot_timing``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, is_dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID, uuid4

import pytest
from collections_service.application import CollectionsApplication
from collections_service.column_set_aggregate import ColumnSets, column_sets_id
from collections_service.domain import Collection, Source
from collections_service.operation import Operation
from collections_service.operation_process import OperationProcess
from eventsourcing.application import project_aggregate
from eventsourcing.domain import Aggregate, Snapshot, event
from eventsourcing.persistence import JSONTranscoder, UUIDAsHex
from semantik_contracts import OperationStatus, OperationType, commands, events
from semantik_contracts.sync import SourceSync, SyncStatus
from semantik_runtime.eventstore import event_store_env
from semantik_runtime.snapshots import Snapshotting, TypedValueAsDict, snapshot_due, typed

from .application_case import CollectionsApplicationCase, OnPostgres, OnSQLite

pytestmark = pytest.mark.integration


def shape(value: Any) -> Any:
    """The type of every part of ``value``: equal values may differ in type (a status
    that came back as the string ``"completed"`` equals ``OperationStatus.COMPLETED``)."""
    if isinstance(value, dict):
        return (type(value), {key: shape(v) for key, v in value.items()})
    if isinstance(value, list | tuple) and not is_dataclass(value):
        return (type(value), [shape(v) for v in value])
    if isinstance(value, set | frozenset):
        return (type(value), sorted({type(v).__name__ for v in value}))
    return type(value)


def rebuilt(app: CollectionsApplication, aggregate_id: UUID) -> Aggregate:
    """The aggregate folded from all its events, no snapshot."""
    aggregate = project_aggregate(None, app.events.get(aggregate_id))
    assert isinstance(aggregate, Aggregate)
    return aggregate


def load(app: CollectionsApplication, aggregate_id: UUID) -> tuple[Any, list[Any]]:
    """The aggregate as ``repository.get`` loads it, with what it read from the stores
    (the snapshot first, if any, then the events after it)."""
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


def embedded(view: Any, op_id: UUID, key: str, chunks: int = 2) -> events.ChunksEmbedded:
    return events.ChunksEmbedded(
        collection_id=view.id,
        operation_id=op_id,
        document_id=uuid4(),
        generation=1,
        chunk_count=chunks,
        work_id=key,
    )


class SnapshotsTenTimesAsOften(CollectionsApplication):
    """The application with each of its snapshot intervals divided by ten: a history a
    tenth as long crosses as many snapshot points, through the same code."""

    name = CollectionsApplication.name  # its tables, not a new application's
    snapshot_every = {kind: n // 10 for kind, n in CollectionsApplication.snapshot_every.items()}


class SnapshotsCase(CollectionsApplicationCase):
    def assert_restores_its_events(
        self, app: CollectionsApplication, env: dict[str, str], aggregate_id: UUID
    ) -> None:
        """Snapshot the aggregate now; a fresh application loads it from that snapshot
        alone, equal to the aggregate its events build, value for value and type for type."""
        app.take_snapshot(aggregate_id)
        fresh = CollectionsApplication(env=env, quotas=self.quotas)
        try:
            restored, read = load(fresh, aggregate_id)
        finally:
            fresh.close()
        assert [type(r) for r in read] == [type(read[0])] and isinstance(read[0], Snapshot)
        expected = rebuilt(app, aggregate_id)
        assert restored.__dict__ == expected.__dict__
        assert shape(restored.__dict__) == shape(expected.__dict__)

    def test_a_collection_is_restored_from_its_snapshot(
        self, app: CollectionsApplication, env: dict[str, str]
    ) -> None:
        view = self.create(app)
        op_id = self.add_source(app, view.id).operation.id
        self.finish(app, view, op_id)
        app.start_operation(
            commands.StartOperation(
                actor="u1", collection_id=view.id, operation_type=OperationType.REINDEX
            )
        )
        collection: Collection = app.repository.get(view.id)
        collection.grant("team", "t1", "viewer", "u1")
        app.save(collection)
        # A reindex is running: a staging generation beside the active one, int-keyed.
        assert collection.staging_generation is not None and len(collection.generations) == 2
        self.assert_restores_its_events(app, env, view.id)

    def test_an_operation_is_restored_from_its_snapshot(
        self, app: CollectionsApplication, env: dict[str, str]
    ) -> None:
        view, op_id, process = self.scanning(app)
        process.on_chunks_embedded_many([embedded(view, op_id, f"{op_id}:{n}") for n in range(5)])
        process.on_embedding_failed(
            events.EmbeddingFailed(
                collection_id=view.id,
                operation_id=op_id,
                document_id=uuid4(),
                generation=1,
                reason="too long",
                chunk_count=3,
                work_id=f"{op_id}:failed",
            )
        )
        op: Operation = app.repository.get(op_id)
        assert op.status is OperationStatus.PROCESSING and len(op.counted) == 6
        self.assert_restores_its_events(app, env, op_id)

    def test_a_source_is_restored_from_its_snapshot(
        self, app: CollectionsApplication, env: dict[str, str]
    ) -> None:
        view = self.create(app)
        source_id = self.add_source(app, view.id).source.id
        source: Source = app.repository.get(source_id)
        source.change_sync(SourceSync(watch=True, interval_minutes=60))
        source.report_sync(SyncStatus.ACTIVE, "")
        source.sync_requested("schedule", uuid4())
        source.add_version(1234)
        app.save(source)
        self.assert_restores_its_events(app, env, source_id)

    def test_column_sets_are_restored_from_their_snapshot(
        self, app: CollectionsApplication, env: dict[str, str]
    ) -> None:
        view = self.create(app)
        sets = ColumnSets(id=column_sets_id(view.id), collection_id=view.id)
        sets.save("short", ["title"], ["author"], "id", "u1", datetime.now(UTC).isoformat())
        sets.save("long", ["title", "body"], [], None, "u1", datetime.now(UTC).isoformat())
        sets.delete("short")
        app.save(sets)
        self.assert_restores_its_events(app, env, sets.id)

    @pytest.fixture
    def often(self, env: dict[str, str]) -> Iterator[CollectionsApplication]:
        application = SnapshotsTenTimesAsOften(env=env, quotas=self.quotas)
        yield application
        application.close()

    def test_a_large_operation_loads_from_its_latest_snapshot(
        self, often: CollectionsApplication, env: dict[str, str]
    ) -> None:
        """120 work items, an operation snapshotted every 50 events (a tenth of its 500):
        snapshots past versions 50 and 100; a fresh application reads the latest and the
        events after it, and counts every item once as before."""
        assert often.snapshot_every[Operation] == 50
        view, op_id, process = self.scanning(often)
        keys = [f"{op_id}:{n}" for n in range(120)]
        for start in range(0, len(keys), 10):
            process.on_chunks_embedded_many(
                [embedded(view, op_id, k) for k in keys[start : start + 10]]
            )
        assert often.snapshots is not None
        # Each where a save of 10 (versions 43-52, 93-102) passed 50 and 100.
        assert [s.originator_version for s in often.snapshots.get(op_id)] == [52, 102]

        fresh = CollectionsApplication(env=env, quotas=self.quotas)
        try:
            op, read = load(fresh, op_id)
            assert isinstance(read[0], Snapshot) and read[0].originator_version == 102
            assert len(read) - 1 == op.version - 102 <= 50
            assert op.__dict__ == rebuilt(often, op_id).__dict__
            assert op.embedded_chunks == 240 and not op.record_embedded(keys[7], 2)

            # Redelivered work is not counted again; the last item and the scan's end
            # complete the operation with exact counts.
            again = OperationProcess(fresh)
            again.on_chunks_embedded_many([embedded(view, op_id, k) for k in keys[:30]])
            again.on_chunks_embedded(embedded(view, op_id, f"{op_id}:last"))
            stats = events.ScanStats(total_files_found=121, new_documents=121, chunks=242)
            again.on_scan_completed(
                events.ScanCompleted(collection_id=view.id, operation_id=op_id, stats=stats)
            )
            done = self.operation(fresh, op_id)
            assert done.status is OperationStatus.COMPLETED and done.processed == 242
            assert self.collection(fresh, view).chunk_count == 242
        finally:
            fresh.close()


class TestSnapshotsOnSQLite(OnSQLite, SnapshotsCase):
    pass


class TestSnapshotsOnPostgres(OnPostgres, SnapshotsCase):
    pass


# -- the pieces, without a collection ------------------------------------------------


class Colour(Enum):
    RED = "red"


class Point(NamedTuple):
    x: int
    y: int


@dataclass(frozen=True)
class Settings:
    name: str
    columns: tuple[str, ...]
    status: OperationStatus


@pytest.mark.unit
def test_typed_values_come_back_as_they_were() -> None:
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(TypedValueAsDict())
    state = {
        "status": OperationStatus.FAILED,
        "colour": Colour.RED,
        "keys": {"a", "b"},
        "frozen": frozenset({1, 2}),
        "pair": (1, "x"),
        "point": Point(1, 2),
        "by_number": {1: Settings("s", ("a", "b"), OperationStatus.QUEUED)},
        "nested": [{"ids": {uuid4()}}, None, 1.5, True],
    }
    back = transcoder.decode(transcoder.encode(typed(state)))
    assert back == state and shape(back) == shape(state)
    assert back["by_number"][1].columns == ("a", "b")


@pytest.mark.unit
def test_loading_replays_at_most_an_interval_or_an_eighth_of_the_history() -> None:
    interval = 500
    latest, taken = 0, []
    for version in range(1, 200_001):
        if snapshot_due(version, interval):
            latest = version
            taken.append(version)
        assert version - latest < max(interval, version // 8 + 1)
    assert taken[:16] == [500 * n for n in range(1, 17)]
    assert len(taken) < 60  # not 400: the state written grows with the history


class Counter(Aggregate):
    """A test aggregate; ``handle`` stands for state the transcoder cannot store."""

    @event("Opened")
    def __init__(self) -> None:
        self.count = 0
        self.handle = object()

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1


class Counters(Snapshotting):
    name = "counters"
    snapshot_every = {Counter: 5}


@pytest.mark.unit
def test_a_snapshot_that_cannot_be_written_fails_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = Counters(env=event_store_env("counters", None, tmp_path))
    try:
        counter = Counter()
        for _ in range(9):
            counter.count_one()
        with caplog.at_level(logging.ERROR):
            app.save(counter)  # version 10: two snapshot points
        assert "snapshot of" in caplog.text
        assert app.snapshots is not None and not list(app.snapshots.get(counter.id))
        fresh = Counters(env=event_store_env("counters", None, tmp_path))
        assert fresh.repository.get(counter.id).count == 9  # from its events
        fresh.close()
    finally:
        app.close()
