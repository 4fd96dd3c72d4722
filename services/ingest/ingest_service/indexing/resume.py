"""Resuming an operation's lost work (``ResumeWork``, asked by the operation watchdog).

JetStream may lose what it acknowledged (a purge, a server that lost writes not yet on
disk), so the registry, not the bus, says what an operation's work is. Each of its
documents whose work is not known to be done is read again from its file, chunked with
the scan's settings and published again under the same work ids: the process manager
and the registry count a work id once, so work that was only late is not counted twice.
The messages carry the resumption's tag (``attempt``), so the streams' duplicate windows,
which outlive a purge, do not drop them. A file that vanished or changed since it was
registered cannot give the same chunks: its document fails with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from semantik_contracts import ErrorCode, EventEnvelope
from semantik_contracts.commands import ResumeWork, WorkResumed
from semantik_contracts.events import EmbeddingFailed
from semantik_contracts.subjects import WORK_STREAM, embed_work_subject, model_slug
from semantik_contracts.work import EmbedChunks
from semantik_runtime.bus import Bus
from semantik_runtime.errors import CommandError

from ..application import IngestApplication
from ..domain import work_id
from ..extraction.extract import DocumentError
from ..extraction.units import RecordFile, Unit
from ..projections import DocumentRecord
from ..scan_aggregate import Scan, ScanSource
from ..sources.roots import FoundFile, SourceRoots
from .unit_indexer import Call, UnitIndexer
from .work import WorkGate

log = logging.getLogger(__name__)


class WorkResumption:
    def __init__(
        self,
        app: IngestApplication,
        bus: Bus,
        roots: SourceRoots,
        units: UnitIndexer,
        *,
        call: Call,
        gate: Callable[[str], WorkGate],
        scanning: Callable[[UUID], bool],
        launch: Callable[[UUID], None],
    ) -> None:
        self.app = app
        self.bus = bus
        self.roots = roots
        self.units = units
        self.call = call
        self.gate = gate
        self.scanning = scanning
        self.launch = launch
        #: Resumptions under way: a watchdog asking again meanwhile gets nothing doubled.
        self.running: set[tuple[UUID, str]] = set()

    async def resume(self, command: ResumeWork) -> WorkResumed:
        key = (command.operation_id, command.documents_prefix)
        if key in self.running:
            return WorkResumed(republished=0)
        self.running.add(key)
        try:
            return await self._resume(command)
        finally:
            self.running.discard(key)

    async def _resume(self, command: ResumeWork) -> WorkResumed:
        operation_id = command.operation_id
        scan: Scan | None = await self.call(self.app.find_scan, operation_id)
        if scan is None or scan.collection_id != command.collection_id:
            raise CommandError(
                ErrorCode.NOT_FOUND,
                f"ingest has no scan of operation {operation_id}: its OperationRequested "
                "has not reached ingest",
            )
        if not scan.completed:
            if self.scanning(operation_id):
                return WorkResumed(republished=0)  # it is publishing its work now
            log.info("scan %s stopped before its end; resuming it", operation_id)
            self.launch(operation_id)
            return WorkResumed(republished=0, scan_resumed=True)
        subject = embed_work_subject(model_slug(scan.model_name))
        if await self._queued(subject):
            return WorkResumed(republished=0, queued=True)
        unfinished = await self.call(
            self.app.unfinished_work, operation_id, set(command.done), command.documents_prefix
        )
        republished = failed = 0
        gate = self.gate(subject)
        sources = {source.source_id: source for source in scan.sources}
        for record, finished in unfinished:
            outcome = await self._work(scan, sources, record, command.attempt)
            if isinstance(outcome, DocumentError):
                await self._fail(scan, record, finished, outcome.reason, command.attempt)
                failed += 1
                continue
            for message in outcome:
                if message.work_id not in finished:
                    await gate.publish(message)
                    republished += 1
        log.info(
            "operation %s resumed: %d work items published again, %d documents failed",
            operation_id,
            republished,
            failed,
        )
        return WorkResumed(republished=republished, failed=failed)

    async def _queued(self, subject: str) -> bool:
        """Work of this model is still in the stream (queued or held by an embedder): the
        embedders are behind, nothing is lost, and publishing again would only double it."""
        info = await self.bus.js.stream_info(WORK_STREAM, subjects_filter=subject)
        return bool((info.state.subjects or {}).get(subject, 0))

    async def _work(
        self,
        scan: Scan,
        sources: dict[UUID, ScanSource],
        record: DocumentRecord,
        attempt: str,
    ) -> list[EmbedChunks] | DocumentError:
        """The document's work as its scan published it, read again from its file."""
        source = sources.get(record.source_id) if record.source_id else None
        if source is None:
            return DocumentError("its source is not part of the operation's scan")
        unit = await self._unit(source, record)
        if isinstance(unit, DocumentError):
            return unit
        [items] = await self.units.prepare(scan, source.source_id, [(unit, record.id)])
        if isinstance(items, DocumentError):
            return items
        if len(items) != record.chunk_count:
            return DocumentError("its file gives other chunks than when it was registered")
        replaces = record.replaces if record.operation_id == scan.operation_id else []
        messages = self.units.messages(scan, record.id, items, replaces)
        return [message.model_copy(update={"attempt": attempt}) for message in messages]

    async def _unit(self, source: ScanSource, record: DocumentRecord) -> Unit | DocumentError:
        """The document's content, read again: the file, or its row of a record file."""
        try:
            resolved = await asyncio.to_thread(
                self.roots.resolve_recorded, source.kind, record.file
            )
            size = (await asyncio.to_thread(resolved.path.stat)).st_size
        except CommandError as exc:
            return DocumentError(f"its file is gone: {exc.message}")
        except OSError as exc:
            return DocumentError(f"its file cannot be read: {exc.strerror}")
        found = FoundFile(record.file, str(resolved.path), size)
        read = await self.units.read(source, found)
        if isinstance(read, RecordFile):
            read = next(
                (u for u in read.units if u.path == record.path),
                DocumentError("its row is no longer in the file"),
            )
        if isinstance(read, Unit) and read.sha256 != record.sha256:
            return DocumentError("its file changed since it was registered")
        return read

    async def _fail(
        self, scan: Scan, record: DocumentRecord, finished: set[str], reason: str, attempt: str
    ) -> None:
        """The document's remaining work fails (``EmbeddingFailed``, as when the embedders
        give up): the operation counts its chunks as failed and can complete."""
        work = work_id(scan.operation_id, record.id, scan.generation)
        # A document sent in parts may have some embedded already (this registry counts
        # their chunks); the rest fails under the document's work id.
        parts_done = any(key.startswith(f"{work}:p") for key in finished)
        embedded = record.embedded_chunks if parts_done else 0
        chunk_count = max(record.chunk_count - embedded, 0)
        envelope = EventEnvelope(
            event_id=f"{work}:{attempt}:failed",
            aggregate_type="embedding",
            aggregate_id=record.id,
            version=scan.generation,
            occurred_at=datetime.now(UTC),
            event=EmbeddingFailed(
                collection_id=scan.collection_id,
                operation_id=scan.operation_id,
                document_id=record.id,
                generation=scan.generation,
                chunk_count=chunk_count,
                reason=f"{record.path}: {reason}",
                work_id=work,
            ),
        )
        await self.bus.publish_event(envelope)
