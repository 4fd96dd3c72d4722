"""The extraction processes: a file that kills its process fails alone."""

from __future__ import annotations

import os

import pytest
from ingest_service.extract import DocumentError
from ingest_service.pool import ExtractionPool
from ingest_service.preparation import chunk_jobs

from services.ingest.tests.crashing import crash_the_process

pytestmark = pytest.mark.integration


async def test_a_dead_process_is_replaced_and_the_file_fails_alone() -> None:
    pool = ExtractionPool(1, niceness=5)
    try:
        assert await pool.run(chunk_jobs, []) == []
        first = pool.executor()
        with pytest.raises(DocumentError, match="crashed the extraction process"):
            await pool.run(crash_the_process, None)
        assert pool.executor() is not first  # replaced
        assert await pool.run(os.nice, 0) == 5  # a working process, at the lower priority
    finally:
        pool.close()
