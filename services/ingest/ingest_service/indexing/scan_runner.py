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
from uuid import UUID

from semantik_contracts import OperationType, SourceKind
from semantik_contracts.events import ScanStats
from semantik_contracts.subjects import embed_work_subject, model_slug
from semantik_runtime.errors import CommandError

from ..application import IngestApplication
from ..extraction.extract import file_type
from ..extraction.formats import is_supported
from ..scan_aggregate import REMOVED, Scan, ScanSource
from ..sources.roots import SourceRoots
from ..sources.uploaded import UploadedFiles
from .files import FileIndexer, Listing, Progress
from .removal import DocumentRemoval
from .unit_indexer import Call
from .work import WorkGate

log = logging.getLogger(__name__)


class ScanRunner:
    def __init__(
        self,
        app: IngestApplication,
        roots: SourceRoots,
        uploads: UploadedFiles,
        files: FileIndexer,
        removal: DocumentRemoval,
        *,
        call: Call,
        gate: Callable[[str], WorkGate],
        ended: Callable[[UUID, UUID], Awaitable[bool]],
        progress_interval: float = 1.0,
    ) -> None:
        self.app = app
        self.roots = roots
        self.uploads = uploads
        self.files = files
        self.removal = removal
        self.call = call
        self.gate = gate
        #: Has the operation ended, by the stream (collection id, operation id)?
        self.ended = ended
        #: Operations cancelled or failed: their scans stop at the next file.
        self.stopping: set[UUID] = set()
        #: Scans whose lease another replica took: they stop at the next file and are
        #: not completed here (the other replica runs them now).
        self.lost: set[UUID] = set()
        self.progress_interval = progress_interval

    async def run(self, operation_id: UUID) -> ScanStats | None:
        """Run (or resume) the scan; its statistics, or None when it was completed
        already or its lease was lost."""
        scan: Scan = await self.call(self.app.scan_to_run, operation_id)
        if scan.completed:
            return None
        if await self.ended(scan.collection_id, operation_id):
            # Ended while no replica ran the scan (or its ending reached another one).
            self.stopping.add(operation_id)

        def stopped() -> bool:
            return operation_id in self.stopping or operation_id in self.lost

        if scan.operation_type == OperationType.REMOVE_SOURCE:
            removed: set[UUID] = set()
            gone = [source for source in scan.sources if source.kind == REMOVED]
            for source in gone:  # exactly that source's documents, nothing else
                known = await self.call(
                    self.app.documents_of_source, scan.collection_id, source.source_id
                )
                await self.removal.remove(scan, known)
                removed.update(doc.id for doc in known)
            # Content the removed source held may have been skipped elsewhere as its
            # duplicate: those sources are scanned again, so it is found there now. The
            # operation described the collection's other sources for that.
            holders = await self.call(self.app.duplicate_holders, removed)
            others = [s for s in scan.sources if s.kind != REMOVED and s.source_id in holders]
            await self._index(scan, others, stopped)
            return await self._complete(scan, stopped())
        listings = [listing for s in scan.sources if (listing := await self._list(scan, s))]
        # Vanished files first (their content may be found again); none once stopped.
        for listing in [] if stopped() else listings:
            seen = {found.path for found in listing.files}
            known = await self.call(
                self.app.documents_of_source, scan.collection_id, listing.source.source_id
            )
            await self.removal.remove(scan, [doc for doc in known if doc.file not in seen])
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
            await self.files.index_files(scan, listings, gate, progress, stopped)
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

    async def _complete(self, scan: Scan, stopped: bool) -> ScanStats | None:
        if scan.operation_id in self.lost:
            log.info("scan %s left to the replica that took its lease", scan.operation_id)
            return None
        if not stopped and await self.ended(scan.collection_id, scan.operation_id):
            stopped = True  # its ending went unheard here (a plain subscription's gap)
        stats: ScanStats = await self.call(self.app.complete, scan, stopped)
        self.stopping.discard(scan.operation_id)
        log.info("scan %s completed: %s", scan.operation_id, stats.model_dump())
        return stats

    async def _list(self, scan: Scan, source: ScanSource) -> Listing | None:
        """The source's files, or a recorded failure when the source cannot be read."""
        if source.kind == "missing":
            reason = "the source is unknown (its operation does not describe it)"
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
