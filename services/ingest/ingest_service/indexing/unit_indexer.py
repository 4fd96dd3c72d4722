"""How one unit (a whole file, or one row of a record file) becomes a document.

The one collaborator the file indexer, the record-file indexer and the resumption of
lost work share: reading a file, chunking units in the extraction processes, deciding
a unit against the registry in its turn (new, unchanged, duplicate, republished,
retried) and the embed work that follows. It knows nothing of the order files come in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, TypeVar
from uuid import UUID

from semantik_contracts import SkipReason
from semantik_contracts.work import ChunkWork, EmbedChunks

from ..application import Action, Decision, IngestApplication, NewDocument
from ..extraction.extract import DocumentError
from ..extraction.pool import ExtractionCrashed, ExtractionPool
from ..extraction.preparation import ChunkJob, chunk_jobs, read_file, read_records
from ..extraction.records import ColumnSelection
from ..extraction.tables import is_record_file
from ..extraction.units import RecordFile, Unit
from ..projections import DocumentRecord
from ..scan_aggregate import Scan, ScanSource
from ..sources.roots import FoundFile
from .work import WorkTarget, embed_messages

T = TypeVar("T")
#: Runs a function of the application on its writer thread (``WriterThread.call``).
Call = Callable[..., Awaitable[Any]]
#: Deletes documents' points, then retires them (``DocumentRemoval.remove``).
Remove = Callable[[Scan, list[DocumentRecord]], Awaitable[None]]
#: What reading a file gives: a document, the records of a record file, or why not.
Read = Unit | RecordFile | DocumentError
#: What chunking units gives: each unit's chunks, or why it failed.
Chunked = list[list[ChunkWork] | DocumentError]
#: A unit's chunks, why it failed, or None when it was not chunked beforehand.
Prepared = list[ChunkWork] | DocumentError | None
#: A new unit to register: its document id and the document its path held before.
Fresh = tuple[Unit, UUID, UUID | None]


def selection_of(source: ScanSource) -> ColumnSelection:
    """The source's column preference set, as the record parser takes it."""
    return ColumnSelection(source.text_columns, source.context_columns, source.id_column)


class UnitIndexer:
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
    ) -> None:
        self.app = app
        self.pool = pool
        self.call = call
        self.workers = workers
        self.remove = remove
        self.max_file_bytes = max_file_bytes
        self.max_message_bytes = max_message_bytes
        #: Held while a failed part's units are chunked again one by one.
        self._alone = asyncio.Lock()

    async def _work(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.workers, fn, *args)

    async def read(self, source: ScanSource, found: FoundFile) -> Read:
        """One file read and hashed (a record file parsed), or why it cannot be."""
        limit = self.max_file_bytes
        if found.size > limit:
            return DocumentError(f"file too large ({found.size} bytes; the limit is {limit})")
        try:
            if is_record_file(found.path):
                selection = selection_of(source)
                return await self.pool.run(read_records, found.path, found.real, selection, limit)
            return await self._work(read_file, found.path, found.real, limit)
        except DocumentError as exc:  # the pool's: the file crashed a parser
            return exc

    async def decide(
        self, scan: Scan, sid: UUID, unit: Unit, items: list[ChunkWork] | DocumentError | None
    ) -> list[EmbedChunks]:
        """Record what happens to one unit (in its turn); return the work to publish."""
        app, path = self.app, unit.path
        for _ in range(3):  # a lost registration race is decided again
            decision: Decision = await self.call(app.classify, scan, path, unit.sha256)
            doc = decision.document_id
            if decision.action is Action.UNCHANGED and scan.is_reindex:
                return await self._resubmit(scan, sid, unit, doc, items)
            if decision.action is Action.UNCHANGED:
                await self.call(app.note_skip, scan, sid, path, SkipReason.UNCHANGED, doc)
                return []
            if decision.action is Action.DUPLICATE:
                if decision.stale is not None:  # this path's old content is gone
                    await self.remove(scan, [decision.stale])
                await self.call(app.note_skip, scan, sid, path, SkipReason.DUPLICATE, doc)
                return []
            if items is None:
                [items] = await self.prepare(scan, sid, [(unit, doc)])
            if isinstance(items, DocumentError):
                await self.call(app.note_failure, scan, sid, path, items.reason)
                return []
            if decision.action in (Action.REPUBLISH, Action.RETRY):
                assert decision.record is not None
                if decision.action is Action.RETRY:
                    await self.call(app.retry, scan, doc, len(items))
                return self.messages(scan, doc, items, decision.record.replaces)
            if not items:
                await self.call(app.note_failure, scan, sid, path, "empty document")
                return []
            stale = decision.stale.id if decision.stale else None
            if await self.call(app.register, scan, self.new(sid, unit, items), stale):
                return self.messages(scan, doc, items, [stale] if stale else [])
        await self.call(app.note_failure, scan, sid, path, "registration kept conflicting")
        return []

    async def _resubmit(
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

    async def decide_batch(
        self, scan: Scan, sid: UUID, units: list[Unit], prepared: list[Prepared]
    ) -> list[EmbedChunks]:
        """``decide`` for many units of one source, in their turn and in their order.

        One classification for all of them; the new ones whose chunks are ``prepared``
        are registered together (``register_group``: one atomic save), unchanged ones
        skipped together. Anything else (a duplicate, a retry, a reindex's resubmission,
        a unit not prepared) first saves the group before it, then is decided alone, so
        every unit is decided against what the units before it registered."""
        app = self.app
        decisions = await self.call(app.classify_many, scan, [(u.path, u.sha256) for u in units])
        messages: list[EmbedChunks] = []
        group: list[Fresh] = []
        chunked: Chunked = []
        skips: list[tuple[UUID, str, SkipReason, UUID | None]] = []
        for unit, decision, items in zip(units, decisions, prepared, strict=True):
            doc = decision.document_id
            if decision.action is Action.NEW and items is not None:
                group.append((unit, doc, decision.stale.id if decision.stale else None))
                chunked.append(items)
            elif decision.action is Action.UNCHANGED and not scan.is_reindex:
                skips.append((sid, unit.path, SkipReason.UNCHANGED, doc))
            else:
                messages += await self.register_group(scan, sid, group, chunked)
                group, chunked = [], []
                messages += await self.decide(scan, sid, unit, items)
        messages += await self.register_group(scan, sid, group, chunked)
        if skips:
            await self.call(app.note_skips, scan, skips)
        return messages

    async def register_group(
        self, scan: Scan, sid: UUID, group: list[Fresh], chunked: Chunked
    ) -> list[EmbedChunks]:
        """Register new units (each with its document id and the document its path held
        before) whose chunks are ``chunked``, in one atomic save; return their work. One
        that failed to chunk fails alone; one that lost a race, or repeats another's
        content, is decided alone after the others."""
        news: list[tuple[NewDocument, UUID | None]] = []
        kept: list[tuple[Unit, UUID, list[ChunkWork], UUID | None]] = []
        for (unit, doc, stale), items in zip(group, chunked, strict=True):
            if isinstance(items, DocumentError) or not items:
                reason = items.reason if isinstance(items, DocumentError) else "empty document"
                await self.call(self.app.note_failure, scan, sid, unit.path, reason)
                continue
            news.append((self.new(sid, unit, items), stale))
            kept.append((unit, doc, items, stale))
        if not news:
            return []
        outcomes = await self.call(self.app.register_many, scan, news)
        messages: list[EmbedChunks] = []
        for (unit, doc, items, stale), registered in zip(kept, outcomes, strict=True):
            if registered:
                messages += self.messages(scan, doc, items, [stale] if stale else [])
            else:  # lost a race, or a duplicate within the group: decide it alone
                messages += await self.decide(scan, sid, unit, items)
        return messages

    def messages(
        self, scan: Scan, document: UUID, items: list[ChunkWork], replaces: list[UUID]
    ) -> list[EmbedChunks]:
        """The document's embed work for the scan's generation and model."""
        target = WorkTarget(
            scan.operation_id, scan.collection_id, scan.generation, scan.model_name, document
        )
        return embed_messages(target, items, replaces, self.max_message_bytes())

    @staticmethod
    def new(sid: UUID, unit: Unit, items: list[ChunkWork]) -> NewDocument:
        """The registration of a unit whose chunks are ``items``."""
        file = unit.file if unit.file != unit.path else ""
        return NewDocument(sid, unit.path, unit.sha256, unit.size, unit.mime, len(items), file)

    async def prepare(self, scan: Scan, sid: UUID, units: list[tuple[Unit, UUID]]) -> Chunked:
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

    async def _prepare_part(self, jobs: list[ChunkJob]) -> Chunked:
        try:
            return await self.pool.run(chunk_jobs, jobs)
        except DocumentError as exc:
            if len(jobs) == 1 and not isinstance(exc, ExtractionCrashed):
                return [exc]  # it ran out of time: the unit's own fault
        # A unit of this part crashed its process or ran out of time, or a unit of another
        # part crashed the pool under it: each unit again alone, one part at a time, so
        # that only a unit at fault fails.
        async with self._alone:
            return [await self._chunk_alone(job) for job in jobs]

    async def _chunk_alone(self, job: ChunkJob) -> list[ChunkWork] | DocumentError:
        try:
            [items] = await self.pool.run(chunk_jobs, [job])
        except DocumentError as exc:
            return exc
        return items
