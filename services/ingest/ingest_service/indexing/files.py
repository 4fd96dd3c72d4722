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
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from semantik_contracts import SkipReason
from semantik_contracts.work import ChunkWork, EmbedChunks

from ..application import Action, Decision, IngestApplication, NewDocument
from ..extraction.extract import DocumentError
from ..extraction.pool import ExtractionPool
from ..extraction.preparation import ChunkJob, chunk_jobs, read_file, read_records
from ..extraction.tables import is_record_file
from ..extraction.units import RecordFile, Unit
from ..projections import DocumentRecord
from ..scan_aggregate import Scan, ScanSource
from ..sources.roots import FoundFile
from .record_files import RecordIndexer
from .work import WorkGate, WorkTarget, embed_messages

log = logging.getLogger(__name__)
#: What reading a file gives: a document, the records of a record file, or why not.
Read = Unit | RecordFile | DocumentError
T = TypeVar("T")
Call = Callable[..., Awaitable[Any]]
Remove = Callable[[Scan, list[DocumentRecord]], Awaitable[None]]

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
    def __init__(
        self,
        app: IngestApplication,
        pool: ExtractionPool,
        *,
        call: Call,
        workers: Executor,
        remove: Remove,
        max_file_bytes: int,
        max_message_bytes: Callable[[], int],
        prefetch: int = 4,
        concurrency: int = 8,
    ) -> None:
        self.app = app
        self.pool = pool
        self.call = call
        self.workers = workers
        self.remove = remove
        self.max_file_bytes = max_file_bytes
        self.max_message_bytes = max_message_bytes
        self.prefetch = prefetch
        self.concurrency = concurrency
        self.records = RecordIndexer(self)

    async def _work(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.workers, fn, *args)

    async def _read_ahead(self, listings: list[Listing]) -> AsyncIterator[FileJob]:
        """Each file read and hashed (a record file parsed), a few ahead, in walk order."""
        window: deque[tuple[ScanSource, FoundFile, asyncio.Future[Read]]] = deque()
        for listing in listings:
            for found in listing.files:
                future = asyncio.ensure_future(self.read(listing.source, found))
                window.append((listing.source, found, future))
                if len(window) >= self.prefetch:
                    source, first, pending = window.popleft()
                    yield FileJob(source, first, await pending)
        while window:
            source, first, pending = window.popleft()
            yield FileJob(source, first, await pending)

    async def read(self, source: ScanSource, found: FoundFile) -> Read:
        """One file read and hashed (a record file parsed), or why it cannot be."""
        limit = self.max_file_bytes
        if found.size > limit:
            return DocumentError(f"file too large ({found.size} bytes; the limit is {limit})")
        try:
            if is_record_file(found.path):
                return await self.pool.run(read_records, found.path, found.real, source, limit)
            return await self._work(read_file, found.path, found.real, limit)
        except DocumentError as exc:  # the pool's: the file crashed a parser
            return exc

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
                    [items] = await self.prepare(scan, sid, [(read, early.document_id)])
                await previous
                messages = await self.decide(scan, sid, read, items)
        finally:
            if not mine.done():
                mine.set_result(None)
        for message in messages:
            await gate.publish(message)

    async def decide(
        self, scan: Scan, sid: UUID, unit: Unit, items: list[ChunkWork] | DocumentError | None
    ) -> list[EmbedChunks]:
        """Record what happens to one unit (in its turn); return the work to publish."""
        path = unit.path
        for _ in range(3):  # a lost registration race is decided again
            decision: Decision = await self.call(self.app.classify, scan, path, unit.sha256)
            doc = decision.document_id
            if decision.action is Action.UNCHANGED and scan.is_reindex:
                return await self.resubmit(scan, sid, unit, doc, items)
            if decision.action is Action.UNCHANGED:
                await self.call(self.app.note_skip, scan, sid, path, SkipReason.UNCHANGED, doc)
                return []
            if decision.action is Action.DUPLICATE:
                if decision.stale is not None:  # this path's old content is gone
                    await self.remove(scan, [decision.stale])
                await self.call(self.app.note_skip, scan, sid, path, SkipReason.DUPLICATE, doc)
                return []
            if items is None:
                [items] = await self.prepare(scan, sid, [(unit, doc)])
            if isinstance(items, DocumentError):
                await self.call(self.app.note_failure, scan, sid, path, items.reason)
                return []
            if decision.action in (Action.REPUBLISH, Action.RETRY):
                assert decision.record is not None
                if decision.action is Action.RETRY:
                    await self.call(self.app.retry, scan, doc, len(items))
                return self.messages(scan, doc, items, decision.record.replaces)
            if not items:
                await self.call(self.app.note_failure, scan, sid, path, "empty document")
                return []
            stale = decision.stale.id if decision.stale else None
            if await self.call(self.app.register, scan, self.new(sid, unit, items), stale):
                return self.messages(scan, doc, items, [stale] if stale else [])
        await self.call(self.app.note_failure, scan, sid, path, "registration kept conflicting")
        return []

    async def resubmit(
        self,
        scan: Scan,
        sid: UUID,
        unit: Unit,
        doc: UUID,
        items: list[ChunkWork] | DocumentError | None,
    ) -> list[EmbedChunks]:
        """A reindex embeds an unchanged document again, into the scan's (staging)
        generation with the scan's chunking; its registration stays as it is."""
        if items is None:
            [items] = await self.prepare(scan, sid, [(unit, doc)])
        if isinstance(items, DocumentError):
            await self.call(self.app.note_failure, scan, sid, unit.path, items.reason)
            return []
        await self.call(self.app.note_resubmitted, scan, sid, unit.path, doc, len(items))
        return self.messages(scan, doc, items, [])

    def messages(
        self, scan: Scan, document: UUID, items: list[ChunkWork], replaces: list[UUID]
    ) -> list[EmbedChunks]:
        target = WorkTarget(
            scan.operation_id, scan.collection_id, scan.generation, scan.model_name, document
        )
        return embed_messages(target, items, replaces, self.max_message_bytes())

    @staticmethod
    def new(sid: UUID, unit: Unit, items: list[ChunkWork]) -> NewDocument:
        file = unit.file if unit.file != unit.path else ""
        return NewDocument(sid, unit.path, unit.sha256, unit.size, unit.mime, len(items), file)

    async def prepare(
        self, scan: Scan, sid: UUID, units: list[tuple[Unit, UUID]]
    ) -> list[list[ChunkWork] | DocumentError]:
        """Extract and chunk units (with their document ids) in the extraction processes."""
        payload = {"collection_id": str(scan.collection_id), "source_id": str(sid)}
        jobs = [
            ChunkJob(unit, doc, payload, scan.chunk_size, scan.chunk_overlap, scan.model_name)
            for unit, doc in units
        ]
        # Many units (rows) are shared out, so every extraction process works on them.
        size = max(1, -(-len(jobs) // self.pool.workers))
        parts = [jobs[start : start + size] for start in range(0, len(jobs), size)]
        results = await asyncio.gather(*(self._prepare_part(part) for part in parts))
        return [result for part in results for result in part]

    async def _prepare_part(self, jobs: list[ChunkJob]) -> list[list[ChunkWork] | DocumentError]:
        try:
            return await self.pool.run(chunk_jobs, jobs)
        except DocumentError as exc:  # the part crashed its process twice
            return [exc] * len(jobs)
