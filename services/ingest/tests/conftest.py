"""Fixtures of the ingest service's tests (the harness lives in ``harness.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from ingest_service.extraction.pool import ExtractionPool
from semantik_runtime.bus import Bus

from services.ingest.tests.harness import Harness


@pytest.fixture(scope="session")
def extraction_pool() -> Iterator[ExtractionPool]:
    """Real extraction processes, started once for every test of the session."""
    pool = ExtractionPool(2, niceness=0)
    yield pool
    pool.close()


@pytest.fixture
async def harness(
    private_nats_url: str, tmp_path: Path, extraction_pool: ExtractionPool
) -> AsyncIterator[Harness]:
    bus = await Bus.connect(private_nats_url, "test")
    await bus.ensure_streams()
    h = Harness(bus, private_nats_url, tmp_path, extraction_pool)
    await h.serve_deletions()
    try:
        yield h
    finally:
        await h.shut_down()
        await bus.close()
