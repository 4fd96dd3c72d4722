"""Fixtures shared by every test: real NATS JetStream and PostgreSQL (tests/services.py),
only ever servers this run started or ones named by ``SEMANTIK_TEST_*`` variables."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from semantik_runtime.bus import Bus

from tests.models import build_tiny_model
from tests.services import (
    ForeignStream,
    NatsServer,
    fresh_streams,
    nats_service,
    postgres_service,
    private_nats,
)

pytest_plugins = ["tests.watchdog"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


_CACHE = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """The run's own machine cache of built model passes (``SEMANTIK_CACHE_DIR``): every
    system a test starts shares it, as a machine's data dirs do, and the user's cache is
    never read or written. Removed at the end of the run."""
    config.stash[_CACHE] = os.environ["SEMANTIK_CACHE_DIR"] = tempfile.mkdtemp(
        prefix="semantik-test-cache-"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    cache = config.stash.get(_CACHE, None)
    if cache is not None:
        shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """This run's NATS server: private, or the one ``SEMANTIK_TEST_NATS_URL`` names."""
    with nats_service() as server:
        yield server


@pytest.fixture(scope="session")
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture
def private_nats_url() -> Iterator[str]:
    """A NATS server of this test's own, for tests that restart or inspect the server."""
    with private_nats() as url:
        yield url


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:
    """A connected bus with both streams freshly created (only streams this run created
    are ever deleted: on a shared server a foreign one fails the test instead)."""
    connection = await Bus.connect(nats_server.url, "test")
    try:
        await fresh_streams(connection, nats_server)
    except ForeignStream as exc:
        await connection.close()
        pytest.fail(str(exc))
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
