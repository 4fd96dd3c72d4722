"""Indexing a scan's files: read ahead, chunk concurrently, decide in walk order.

Files are read and hashed on worker threads a few ahead. Each file that looks new is
chunked (with its BM25 terms) on a worker thread at once, then waits for its turn:
decisions and registrations happen strictly in walk order, so of two equal files the
first is registered and the other is its duplicate, every time. Its work is published
after its turn, through the work gate. Every decision is made again against the
registry in the file's turn, so a resumed scan publishes what this operation already
registered again (same work ids) instead of calling it a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from semantik_contracts.work import ChunkWork, EmbedChunks

from ..application import Action, IngestApplication
from ..extraction.extract import DocumentError
from ..extraction.units import RecordFile
from ..scan_aggregate import Scan, ScanSource
from ..sources.roots import FoundFile
from .record_files import RecordIndexer
from .unit_indexer import Call, Read, UnitIndexer
from .work import WorkGate

log = logging.getLogger(__name__)

#: Decisions whose chunks are prepared before the file's turn comes.
_PREPARED = (Action.NEW, Action.REPUBLISH, Action.RETRY)
#: Skips and failures are saved in batches of this many files.
_FLUSH_EVERY = 100


@dataclass(frozen=True, slots=True)
class Listing:
    source: ScanSource
    files: list[FoundFile]


@dataclass(slots=True)
class Progress:
    """How far a scan is: read by its progress reports while the files are indexed."""

    files_found: int = 0
    files_done: int = 0


@dataclass(frozen=True, slots=True)
class FileJob:
    source: ScanSource
    found: FoundFile
    read: Read


class FileIndexer:
    """Orders a scan's files: each file's unit is decided in walk order by the unit
    indexer; a record file's rows go to the record-file indexer in its file's turn."""

    def __init__(
        self,
        app: IngestApplication,
        units: UnitIndexer,
        records: RecordIndexer,
        *,
        call: Call,
        prefetch: int = 4,
        concurrency: int = 8,
    ) -> None:
        self.app = app
        self.units = units
        self.records = records
        self.call = call
        self.prefetch = prefetch
        self.concurrency = concurrency

    async def _read_ahead(self, listings: list[Listing]) -> AsyncIterator[FileJob]:
        """Each file read and hashed (a record file parsed), a few ahead, in walk order."""
        window: deque[tuple[ScanSource, FoundFile, asyncio.Future[Read]]] = deque()
        for listing in listings:
            for found in listing.files:
                future = asyncio.ensure_future(self.units.read(listing.source, found))
                window.append((listing.source, found, future))
                if len(window) >= self.prefetch:
                    source, first, pending = window.popleft()
                    yield FileJob(source, first, await pending)
        while window:
            source, first, pending = window.popleft()
            yield FileJob(source, first, await pending)

    async def index_files(
        self,
        scan: Scan,
        listings: list[Listing],
        gate: WorkGate,
        progress: Progress,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        """Index every file: chunked concurrently, decided and registered in walk order.

        Each file takes its turn after the one before it, so of two equal files the
        first in walk order is registered and the other is its duplicate, every time.
        Once ``stopped`` says so, no further file is started; the files under way finish,
        so every document registered has its work published.
        """
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(self.concurrency)
        previous: asyncio.Future[None] = loop.create_future()
        previous.set_result(None)
        running: set[asyncio.Task[None]] = set()
        failures: list[BaseException] = []

        def finished(task: asyncio.Task[None]) -> None:
            progress.files_done += 1
            slots.release()
            running.discard(task)
            error = None if task.cancelled() else task.exception()
            if error is not None:
                failures.append(error)

        try:
            handled = 0
            async for job in self._read_ahead(listings):
                if stopped():
                    break
                await slots.acquire()
                if failures:
                    raise failures[0]
                mine: asyncio.Future[None] = loop.create_future()
                task = asyncio.ensure_future(self._index(scan, job, gate, previous, mine))
                task.add_done_callback(finished)
                running.add(task)
                previous = mine
                handled += 1
                if handled % _FLUSH_EVERY == 0:
                    await self.call(self.app.flush, scan)
            await asyncio.gather(*running, return_exceptions=True)
            if failures:
                raise failures[0]
        finally:
            for task in running:
                task.cancel()

    async def _index(
        self,
        scan: Scan,
        job: FileJob,
        gate: WorkGate,
        previous: asyncio.Future[None],
        mine: asyncio.Future[None],
    ) -> None:
        sid, read = job.source.source_id, job.read
        messages: list[EmbedChunks] = []
        try:
            if isinstance(read, RecordFile):
                await previous
                await self.records.index(scan, sid, read, gate)  # publishes as it goes
            elif isinstance(read, DocumentError):
                await previous
                await self.call(self.app.note_failure, scan, sid, job.found.path, read.reason)
            else:
                items: list[ChunkWork] | DocumentError | None = None
                early = await self.call(self.app.classify, scan, read.path, read.sha256)
                if early.action in _PREPARED or (
                    scan.is_reindex and early.action is Action.UNCHANGED
                ):  # chunk before our turn
                    [items] = await self.units.prepare(scan, sid, [(read, early.document_id)])
                await previous
                messages = await self.units.decide(scan, sid, read, items)
        finally:
            if not mine.done():
                mine.set_result(None)
        for message in messages:
            await gate.publish(message)
