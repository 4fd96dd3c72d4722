"""The extraction processes: a file that kills its process fails alone."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from ingest_service.extract import DocumentError
from ingest_service.pool import ExtractionPool
from ingest_service.preparation import chunk_jobs

from services.ingest.tests.crashing import crash_the_process, spin_without_python

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


async def test_a_file_that_hangs_fails_with_the_reason_and_the_process_goes_on() -> None:
    pool = ExtractionPool(1, niceness=0, timeout=1.0)
    try:
        # queued behind a call that takes most of the timeout: the wait does not count
        slow, hung = await asyncio.gather(
            pool.run(time.sleep, 0.8), pool.run(time.sleep, 600), return_exceptions=True
        )
        assert slow is None
        assert isinstance(hung, DocumentError)
        assert str(hung) == "reading this file took longer than 1 s"
        first = pool.executor()
        assert await pool.run(chunk_jobs, []) == []
        assert pool.executor() is first  # the same process went on
    finally:
        pool.close()


async def test_a_parser_spinning_in_c_code_is_ended_and_the_file_fails_alone() -> None:
    pool = ExtractionPool(1, niceness=0, timeout=0.5)
    try:
        with pytest.raises(DocumentError, match="crashed the extraction process"):
            await pool.run(spin_without_python, None)
        assert await pool.run(chunk_jobs, []) == []
    finally:
        pool.close()
