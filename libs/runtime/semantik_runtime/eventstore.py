"""The event store: eventsourcing on SQLite (embedded) or PostgreSQL (``DATABASE_URL``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresRecorder,
    PostgresTrackingRecorder,
)

from .telemetry import MAPPER_TOPIC

#: The PostgreSQL advisory lock a recorder holds while it creates its tables ("SEMANTIK").
TABLES_LOCK = 0x53454D414E54494B


class SerialTables(PostgresRecorder):
    """Creates a recorder's tables one process at a time. PostgreSQL's ``CREATE TABLE
    IF NOT EXISTS`` (and ``CREATE TYPE``) are not safe against each other: processes
    that start together, the services of ``semantik run`` sharing ``read_model_rows``
    or the replicas of one service sharing its events table, raced to a unique
    violation on ``pg_type`` (or "tuple concurrently updated"), and one of them stopped
    at its start. The lock is held on a connection of its own while the tables are
    made on others; the next process waits for it, then finds them made."""

    def create_table(self) -> None:
        with self.datastore.get_connection() as holder:
            with holder.transaction():
                holder.execute("SELECT pg_advisory_lock(%s)", (TABLES_LOCK,))
            try:
                super().create_table()
            finally:
                with holder.transaction():
                    holder.execute("SELECT pg_advisory_unlock(%s)", (TABLES_LOCK,))


class SerialApplicationRecorder(SerialTables, PostgresApplicationRecorder):
    """An application's events (``APPLICATION_RECORDER_TOPIC``), its tables made alone."""


class SerialTrackingRecorder(SerialTables, PostgresTrackingRecorder):
    """A tracking table (``TRACKING_RECORDER_TOPIC``: the outbox relay's), made alone."""


def event_store_env(app_name: str, database_url: str | None, data_dir: Path) -> dict[str, str]:
    """eventsourcing's environment for one application.

    SQLite gets one file per application (its table names would collide otherwise);
    PostgreSQL applications share a database and get their own tables. A ``schema``
    query parameter on the URL selects a PostgreSQL schema (tests use one per run).
    Every application stores the trace of each event's cause with it.
    """
    return {"MAPPER_TOPIC": MAPPER_TOPIC, **_store_env(app_name, database_url, data_dir)}


def _store_env(app_name: str, database_url: str | None, data_dir: Path) -> dict[str, str]:
    if not database_url:
        path = data_dir / "eventstore" / f"{app_name}.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "10",
            "SQLITE_SINGLE_ROW_TRACKING": "y",
        }
    url = urlparse(database_url)
    if url.scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, not {url.scheme}://")
    query = parse_qs(url.query)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": (url.path or "/postgres").lstrip("/") or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_CONNECT_TIMEOUT": "10",
        "POSTGRES_POOL_SIZE": "5",
        "POSTGRES_SINGLE_ROW_TRACKING": "y",
        "APPLICATION_RECORDER_TOPIC": f"{__name__}:SerialApplicationRecorder",
        "TRACKING_RECORDER_TOPIC": f"{__name__}:SerialTrackingRecorder",
    }
    if "schema" in query:
        env["POSTGRES_SCHEMA"] = query["schema"][0]
    return env
