"""The extraction processes: a file that kills its process fails alone."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ingest_service.extraction.chunking import model_tokenizer
from ingest_service.extraction.extract import DocumentError
from ingest_service.extraction.pool import ExtractionPool
from ingest_service.extraction.preparation import ChunkJob, chunk_jobs, worker_chunker
from ingest_service.extraction.units import Unit
from ingest_service.indexing.unit_indexer import UnitIndexer
from semantik_contracts.search import DEFAULT_MODEL
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

from services.ingest.tests.crashing import crash_the_process, spin_without_python
from tests.models import TINY_MODEL

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


class _PoisonedPool(ExtractionPool):
    """A real pool whose call crashes its process when it holds a unit named poison."""

    async def run(self, fn: Any, *args: Any) -> Any:
        if fn is chunk_jobs and any(job.unit.path.endswith("poison.txt") for job in args[0]):
            return await super().run(crash_the_process, None)
        return await super().run(fn, *args)


async def test_a_unit_that_crashes_a_shared_call_fails_alone() -> None:
    """Units are chunked many to a call; a call that fails is made again unit by unit,
    so only the unit at fault fails."""
    pool = _PoisonedPool(2, niceness=0)
    units = UnitIndexer(
        app=None,  # type: ignore[arg-type]
        pool=pool,
        call=None,  # type: ignore[arg-type]
        workers=None,  # type: ignore[arg-type]
        remove=None,  # type: ignore[arg-type]
        max_file_bytes=1 << 20,
        max_message_bytes=lambda: 1 << 20,
    )
    scan = SimpleNamespace(
        collection_id=uuid.uuid4(), chunk_size=64, chunk_overlap=6, model_name=DEFAULT_MODEL.name
    )
    texts = {f"/d/{name}.txt": f"The text of {name}." for name in ("a", "b", "poison", "c", "d")}
    found = [
        (Unit(path, path, "0" * 64, len(text), "text/plain", "txt", text=text), uuid.uuid4())
        for path, text in texts.items()
    ]
    try:
        chunked = await units.prepare(scan, uuid.uuid4(), found)  # type: ignore[arg-type]
    finally:
        pool.close()
    outcomes = {unit.path: items for (unit, _), items in zip(found, chunked, strict=True)}
    assert isinstance(outcomes.pop("/d/poison.txt"), DocumentError)
    assert {path: [c.text for c in items] for path, items in outcomes.items()} == {  # type: ignore[union-attr]
        path: [text] for path, text in texts.items() if "poison" not in path
    }


def _chunkers_loaded() -> int:
    return worker_chunker.cache_info().currsize


async def test_warming_starts_every_extraction_process_with_its_tokenizer_loaded() -> None:
    pool = ExtractionPool(2, niceness=3)
    before = set(multiprocessing.active_children())
    try:
        await pool.warm()
        started = set(multiprocessing.active_children()) - before
        assert len(started) == 2  # both, before any scan asked for one
        loaded = await asyncio.gather(*(pool.run(_chunkers_loaded) for _ in range(4)))
        assert loaded == [1] * 4  # the default model's chunker, loaded at process start
        assert set(multiprocessing.active_children()) - before == started  # no more
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


async def test_chunks_are_counted_in_the_tokens_of_the_collections_model(
    models_dir: Path, tmp_path: Path
) -> None:
    # A model whose tokenizer counts each word as one token, beside the default model,
    # whose WordPiece splits a long rare word into many.
    extra = tmp_path / "models"
    shutil.copytree(models_dir / TINY_MODEL, extra / "acme" / "word-level")
    words = Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    words.pre_tokenizer = Whitespace()
    words.save(str(extra / "acme" / "word-level" / "tokenizer.json"))
    text = " ".join(["antidisestablishmentarianism"] * 40)
    unit = Unit("/d/a.txt", "/d/a.txt", "0" * 64, len(text), "text/plain", "txt", text=text)
    pool = ExtractionPool(1, niceness=0, models_dir=extra)
    try:
        jobs = [
            ChunkJob(unit, uuid.uuid4(), {}, 12, 0, model)
            for model in ("acme/word-level", DEFAULT_MODEL.name)
        ]
        by_words, by_wordpiece = await pool.run(chunk_jobs, jobs)
    finally:
        pool.close()
    assert isinstance(by_words, list) and isinstance(by_wordpiece, list)
    assert [len(c.text.split()) for c in by_words] == [10, 10, 10, 10]  # 12 - [CLS], [SEP]
    assert len(by_wordpiece) > 4 * len(by_words)


def test_a_model_without_a_tokenizer_file_or_not_installed_gets_the_default_one(
    models_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    extra = tmp_path / "models"
    slow = extra / "acme" / "slow"
    shutil.copytree(models_dir / TINY_MODEL, slow)
    (slow / "tokenizer.json").unlink()
    assert model_tokenizer("acme/slow", extra) is model_tokenizer(DEFAULT_MODEL.name, None)
    assert "acme/slow has no tokenizer.json" in caplog.text
    assert model_tokenizer("acme/elsewhere", extra) is model_tokenizer(DEFAULT_MODEL.name, None)
    assert "acme/elsewhere is not installed here" in caplog.text


#: A service that starts its extraction processes, says their pids, and waits to be killed.
_SERVICE = """
import asyncio, os, time
from ingest_service.extraction.pool import ExtractionPool
pool = ExtractionPool(2, niceness=0)
asyncio.run(pool.warm())
print(*{asyncio.run(pool.run(os.getpid)) for _ in range(8)}, flush=True)
time.sleep(600)
"""


def test_extraction_processes_end_when_their_service_is_killed() -> None:
    """SIGKILL leaves the service no chance to shut its pool down: the processes notice."""
    service = subprocess.Popen([sys.executable, "-c", _SERVICE], stdout=subprocess.PIPE, text=True)
    try:
        assert service.stdout is not None
        workers = [int(pid) for pid in service.stdout.readline().split()]
        assert workers and all(_alive(pid) for pid in workers)
    finally:
        service.kill()
        service.wait()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, f"extraction processes outlived the service: {workers}"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A process that exited but is not reaped yet (by init) is a zombie: it is gone.
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
