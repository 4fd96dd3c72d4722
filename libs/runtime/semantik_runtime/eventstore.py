"""The event store: eventsourcing on SQLite (embedded) or PostgreSQL (``DATABASE_URL``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from .telemetry import MAPPER_TOPIC


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
    }
    if "schema" in query:
        env["POSTGRES_SCHEMA"] = query["schema"][0]
    return env
