"""Fixtures of the whole-system tests in this directory (``system.py``, every service
in one process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from embedder_service.model import EmbeddingModel, load_model
from ingest_service.extraction.pool import ExtractionPool

from tests.models import TINY_MODEL


@pytest.fixture(scope="module")
def tiny_model(models_dir: Path) -> EmbeddingModel:
    return load_model(TINY_MODEL, "cpu", models_dir)


@pytest.fixture(scope="module")
def extraction_pool() -> Iterator[ExtractionPool]:
    pool = ExtractionPool(1, niceness=0)
    yield pool
    pool.close()
