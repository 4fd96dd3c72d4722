"""Fixtures of the ingest service's tests (the harness lives in ``harness.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from semantik_runtime.bus import Bus

from services.ingest.tests.harness import Harness


@pytest.fixture
async def harness(private_nats_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    bus = await Bus.connect(private_nats_url, "test")
    await bus.ensure_streams()
    h = Harness(bus, private_nats_url, tmp_path)
    await h.serve_deletions()
    try:
        yield h
    finally:
        await h.shut_down()
        await bus.close()
