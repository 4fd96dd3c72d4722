"""Fixtures of the whole-system tests in this directory (``system.py``, every service
in one process)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from embedder_service.model import EmbeddingModel, load_model
from ingest_service.extraction.pool import ExtractionPool

from tests.models import TINY_MODEL
from tests.system.system import System, edge_system


@pytest.fixture(scope="module")
def tiny_model(models_dir: Path) -> EmbeddingModel:
    return load_model(TINY_MODEL, "cpu", models_dir)


@pytest.fixture(scope="module")
def extraction_pool() -> Iterator[ExtractionPool]:
    pool = ExtractionPool(1, niceness=0)
    yield pool
    pool.close()


@pytest.fixture
async def edge(
    tmp_path: Path,
    private_nats_url: str,
    tiny_model: EmbeddingModel,
    models_dir: Path,
    extraction_pool: ExtractionPool,
) -> AsyncIterator[System]:
    """Every service in this process over a Qdrant Edge store of the test's own."""
    async with edge_system(
        tmp_path, private_nats_url, tiny_model, models_dir, extraction_pool
    ) as running:
        yield running
