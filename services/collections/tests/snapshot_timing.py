"""How long loading an operation of 10,000 work items takes from a fresh application,
with and without snapshots, on SQLite: a measurement printed for the docs
(docs/architecture.md, "Snapshots"), not a test (pytest does not collect this file)::

    .venv/bin/python -m services.collections.tests.snapshot_timing
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from collections_service.application import CollectionsApplication
from semantik_runtime.eventstore import event_store_env

from .test_snapshots import SnapshotsCase, embedded, load


def time_loading(tmp_path: Path) -> None:
    """Printed, not asserted: recording an operation's work items in batches of 100 (as
    the process manager folds them), then loading it from a fresh application (the best
    of three), right after a snapshot (10,000 items) and 999 events after one (10,997),
    on SQLite with and without snapshots."""
    case = SnapshotsCase()
    for snapshots in ("y", "n"):
        env = event_store_env("collections", None, tmp_path / snapshots)
        app = CollectionsApplication(env={**env, "IS_SNAPSHOTTING_ENABLED": snapshots})
        view, op_id, process = case.scanning(app)
        recorded = 0
        for items in (10_000, 10_997):
            started = time.perf_counter()
            while recorded < items:
                batch = range(recorded, min(items, recorded + 100))
                process.on_chunks_embedded_many(
                    [embedded(view, op_id, f"{op_id}:{n}") for n in batch]
                )
                recorded += len(batch)
            recording = time.perf_counter() - started
            timings = []
            for _ in range(3):
                fresh = CollectionsApplication(env={**env, "IS_SNAPSHOTTING_ENABLED": snapshots})
                started = time.perf_counter()
                op, read = load(fresh, op_id)
                timings.append(time.perf_counter() - started)
                fresh.close()
                assert op.embedded_chunks == 2 * items
            print(
                f"\nsnapshots {snapshots}: {items} work items recorded in {recording:.2f} s "
                f"(this step); loaded in {min(timings) * 1000:.1f} ms, {len(read)} read"
            )
        app.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="semantik-snapshots-") as directory:
        time_loading(Path(directory))
