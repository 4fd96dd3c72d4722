"""Services that start together create their PostgreSQL tables one at a time."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.application import Application
from semantik_runtime.eventstore import event_store_env
from semantik_runtime.read_store import read_store

pytestmark = pytest.mark.integration

#: Processes starting at once: semantik run starts three applications on one database
#: (collections, ingest, gateway), and a deployment may start replicas of each.
STARTING = 6


def start_together(database_url: str, tmp_path: Path, names: list[str]) -> list[Any]:
    """Each application ``names`` names opened with its read store, all at the same
    instant from threads of their own (each with its own connections); what each
    raised, or None."""
    barrier = threading.Barrier(len(names))
    outcomes: list[Any] = [None] * len(names)

    def start(index: int, name: str) -> None:
        env = event_store_env(name, database_url, tmp_path)
        barrier.wait()
        try:
            kind = type(f"{name.title()}Application", (Application,), {"name": name})
            app = kind(env=env)
            app.factory.tracking_recorder()  # the outbox relay's
            read_store(app)
            app.close()
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=start, args=(i, n)) for i, n in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_applications_starting_at_once_all_create_their_tables(
    database_url: str, tmp_path: Path
) -> None:
    """``CREATE TABLE IF NOT EXISTS`` is not safe against itself in PostgreSQL: two
    processes creating the shared ``read_model_rows`` (or one service's events table,
    for two replicas) at once, one failed with a unique violation on ``pg_type`` and
    the service stopped at its start (seen in ``semantik run`` on PostgreSQL)."""
    names = ["collections", "ingest", "gateway"] * (STARTING // 3)
    assert start_together(database_url, tmp_path, names) == [None] * len(names)
