"""Fixtures shared by every test: real NATS JetStream and PostgreSQL (tests/services.py)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from semantik_contracts.subjects import EVENTS_STREAM, WORK_STREAM
from semantik_runtime.bus import Bus

from tests.models import build_tiny_model
from tests.services import nats_service, postgres_service, private_nats

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """The shared NATS server of this run (environment, local port, or private)."""
    with nats_service() as url:
        yield url


@pytest.fixture
def private_nats_url() -> Iterator[str]:
    """A NATS server of this test's own, for tests that restart or inspect the server."""
    with private_nats() as url:
        yield url


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[Bus]:
    """A connected bus with both streams freshly created (the server may be shared)."""
    connection = await Bus.connect(nats_url, "test")
    for stream in (EVENTS_STREAM, WORK_STREAM):
        with contextlib.suppress(Exception):
            await connection.js.delete_stream(stream)
    await connection.ensure_streams()
    yield connection
    await connection.close()


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``SEMANTIK_MODELS_DIR`` holding one extra model, ``acme/tiny-bert`` (tests/models.py)."""
    directory = tmp_path_factory.mktemp("models")
    build_tiny_model(directory)
    return directory


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_service() as url:
        yield url


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose ``schema`` parameter names a schema of this test's own."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{separator}schema={schema}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
