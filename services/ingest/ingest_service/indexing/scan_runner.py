"""One operation's scan: list its sources, retire vanished files, index the rest.

Every step is idempotent against the event store, so a scan interrupted anywhere
resumes without duplicating anything: recorded skips and failures are not recorded
twice, and documents it registered already are published again under the same ids.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from uuid import UUID

from semantik_contracts import ErrorCode, OperationType, RpcFailure, SourceKind
from semantik_contracts.events import ScanStats
from semantik_contracts.subjects import VECTORS, command_subject, embed_work_subject, model_slug
from semantik_contracts.work import DeleteDocumentPoints, Done
from semantik_runtime.bus import Bus
from semantik_runtime.errors import CommandError

from ..application import IngestApplication
from ..extraction.extract import file_type
from ..extraction.formats import is_supported
from ..extraction.pool import ExtractionPool
from ..projections import DocumentRecord
from ..scan_aggregate import Scan, ScanSource
from ..sources.roots import SourceRoots
from ..sources.uploaded import UploadedFiles
from .files import Call, FileIndexer, Listing, Progress
from .work import WorkGate

log = logging.getLogger(__name__)
#: The source of a collection as its events describe it; None once removed.
Lookup = Callable[[UUID, UUID], Awaitable[ScanSource | None]]
#: The kind of a source a ``remove_source`` operation removes (it has no path any more).
REMOVED = "removed"
_DELETE_BATCH = 256


class ScanRunner:
    def __init__(
        self,
        app: IngestApplication,
        bus: Bus,
        roots: SourceRoots,
        pool: ExtractionPool,
        uploads: UploadedFiles,
        *,
        call: Call,
        workers: Executor,
        gate: Callable[[str], WorkGate],
        lookup: Lookup,
        max_file_bytes: int,
        prefetch: int = 4,
        concurrency: int = 8,
        delete_timeout: float = 60.0,
        progress_interval: float = 1.0,
    ) -> None:
        self.app = app
        self.bus = bus
        self.roots = roots
        self.uploads = uploads
        self.call = call
        self.gate = gate
        self.lookup = lookup
        self.delete_timeout = delete_timeout
        #: Operations cancelled or failed: their scans stop at the next file.
        self.stopping: set[UUID] = set()
        self.progress_interval = progress_interval
        self.indexer = FileIndexer(
            app,
            pool,
            call=call,
            workers=workers,
            remove=self._remove,
            max_file_bytes=max_file_bytes,
            max_message_bytes=lambda: bus.nc.max_payload,
            prefetch=prefetch,
            concurrency=concurrency,
        )

    async def run(self, operation_id: UUID) -> ScanStats | None:
        scan: Scan = await self.call(self.app.get_scan, operation_id)
        if scan.completed:
            return None

        def stopped() -> bool:
            return operation_id in self.stopping

        if scan.operation_type == OperationType.REMOVE_SOURCE:
            removed: set[UUID] = set()
            for source in scan.sources:  # exactly that source's documents, nothing else
                known = await self.call(
                    self.app.documents_of_source, scan.collection_id, source.source_id
                )
                await self._remove(scan, known)
                removed.update(doc.id for doc in known)
            # Content the removed source held may have been skipped elsewhere as its
            # duplicate: those sources are scanned again, so it is found there now.
            holders = await self.call(self.app.duplicate_holders, removed)
            gone = {source.source_id for source in scan.sources}
            looked_up = [await self.lookup(scan.collection_id, s) for s in holders - gone]
            await self._index(scan, [s for s in looked_up if s is not None], stopped)
            return await self._complete(scan, stopped())
        listings = [listing for s in scan.sources if (listing := await self._list(scan, s))]
        # Vanished files first (their content may be found again); none once stopped.
        for listing in [] if stopped() else listings:
            seen = {found.path for found in listing.files}
            known = await self.call(
                self.app.documents_of_source, scan.collection_id, listing.source.source_id
            )
            await self._remove(scan, [doc for doc in known if doc.file not in seen])
        await self._index_listed(scan, listings, stopped)
        return await self._complete(scan, stopped())

    async def _index(
        self, scan: Scan, sources: list[ScanSource], stopped: Callable[[], bool]
    ) -> None:
        listings = [listing for s in sources if (listing := await self._list(scan, s))]
        await self._index_listed(scan, listings, stopped)

    async def _index_listed(
        self, scan: Scan, listings: list[Listing], stopped: Callable[[], bool]
    ) -> None:
        gate = self.gate(embed_work_subject(model_slug(scan.model_name)))
        progress = Progress(files_found=sum(len(listing.files) for listing in listings))
        reporter = asyncio.ensure_future(self._report(scan, progress))
        try:
            await self.indexer.index_files(scan, listings, gate, progress, stopped)
        finally:
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)

    async def _report(self, scan: Scan, progress: Progress) -> None:
        """``ScanProgressed`` every ``progress_interval`` seconds while the scan runs."""
        while True:
            await asyncio.sleep(self.progress_interval)
            try:
                await self.call(
                    self.app.report_progress, scan, progress.files_found, progress.files_done
                )
            except Exception:  # a report is not worth failing the scan for
                log.warning("progress report of scan %s failed", scan.operation_id, exc_info=True)

    async def _complete(self, scan: Scan, stopped: bool) -> ScanStats:
        stats: ScanStats = await self.call(self.app.complete, scan, stopped)
        self.stopping.discard(scan.operation_id)
        log.info("scan %s completed: %s", scan.operation_id, stats.model_dump())
        return stats

    async def _list(self, scan: Scan, source: ScanSource) -> Listing | None:
        """The source's files, or a recorded failure when the source cannot be read."""
        if source.kind == "missing":
            reason = "the source is unknown (no SourceAdded event found)"
            await self.call(
                self.app.note_failure, scan, source.source_id, source.path, reason, "source"
            )
            return None
        try:
            name = self.uploads.name_of(source.path) if source.kind == SourceKind.UPLOAD else None
            if name is not None and not await asyncio.to_thread(os.path.exists, source.path):
                await self.uploads.restore(name)  # a new machine: fetched again
            resolved = await asyncio.to_thread(
                self.roots.resolve_recorded, source.kind, source.path
            )
            files = await asyncio.to_thread(lambda: list(self.roots.walk(resolved, is_supported)))
        except (CommandError, OSError) as exc:
            # Its documents stay: an unmounted disk must not empty the collection.
            reason = exc.message if isinstance(exc, CommandError) else str(exc)
            await self.call(
                self.app.note_failure, scan, source.source_id, source.path, reason, "source"
            )
            return None
        if resolved.kind is SourceKind.FILE and not files:
            reason = f"unsupported file type .{file_type(source.path)}"
            await self.call(self.app.note_failure, scan, source.source_id, source.path, reason)
        return Listing(source, files)

    async def _remove(self, scan: Scan, documents: list[DocumentRecord]) -> None:
        """Delete the documents' points (the embedder is the only writer), then retire them."""
        for start in range(0, len(documents), _DELETE_BATCH):
            batch = documents[start : start + _DELETE_BATCH]
            command = DeleteDocumentPoints(
                collection_id=scan.collection_id,
                generation=scan.generation,
                document_ids=[doc.id for doc in batch],
            )
            try:
                await self._request_deletion(command)
            except RpcFailure as exc:
                reason = f"its vectors could not be deleted: {exc.error.message}"
                for doc in batch:  # still registered: the next scan tries again
                    await self.call(
                        self.app.note_failure, scan, doc.source_id, doc.path, reason, "removal"
                    )
                continue
            await self.call(self.app.remove, scan.operation_id, [doc.id for doc in batch])

    async def _request_deletion(self, command: DeleteDocumentPoints) -> None:
        subject = command_subject(VECTORS, "DeleteDocumentPoints")
        for attempt in range(3):
            try:
                await self.bus.request(subject, command, Done, timeout=self.delete_timeout)
                return
            except RpcFailure as exc:
                retry = exc.error.code in (ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT)
                if not retry or attempt == 2:
                    raise
                await asyncio.sleep(1.0 + attempt)
