"""Bus handlers of the ingest service: thin, they decode and hand over.

``OperationRequested`` is acked as soon as ``ScanStarted`` is recorded; the scan runs
as a background task (it may outlast the consumer's ack wait), on the one replica that
holds its lease (``indexing/scan_claims.py``). At start-up, and then every half lease,
every scan the event store shows as started and not completed is launched: the ones no
replica holds (this one restarted, or another died) are resumed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from semantik_contracts import ErrorCode, EventEnvelope, OperationType, SourceKind
from semantik_contracts.commands import (
    ListDocuments,
    ResumeWork,
    ValidatedSource,
    ValidateSource,
    WorkResumed,
)
from semantik_contracts.events import OperationRequested
from semantik_contracts.subjects import (
    INGEST,
    UPLOAD_SCHEME,
    command_subject,
    event_filter,
)
from semantik_contracts.views import DocumentView, Page
from semantik_runtime.bus import Bus
from semantik_runtime.consumer import caught_up, follow_event_batches, follow_events
from semantik_runtime.errors import CommandError
from semantik_runtime.writer_thread import WriterThread

from .application import IngestApplication
from .content import DocumentContent
from .extraction.extract import DocumentError, file_type
from .extraction.formats import SUPPORTED_TYPES, is_supported
from .extraction.pool import ExtractionPool
from .extraction.records import ColumnSelection
from .extraction.tables import is_record_file
from .extraction.units import check_record_columns
from .indexing.endings import ENDINGS, OperationEndings
from .indexing.resume import WorkResumption
from .indexing.scan_runner import ScanRunner
from .indexing.scan_tasks import ScanTasks
from .scan_aggregate import MISSING, REMOVED, ScanSource
from .sources.roots import ResolvedSource, SourceRoots
from .sources.uploaded import UploadedFiles

log = logging.getLogger(__name__)
T = TypeVar("T")

CONSUMER = "ingest-OperationRequested"
#: The consumers that fold what the embedders report into each document's status.
EMBEDDED = "ingest-ChunksEmbedded"
EMBEDDING_FAILED = "ingest-EmbeddingFailed"
#: Operation types this service scans for; the others are handled elsewhere or later.
SCANNED = (
    OperationType.INDEX,
    OperationType.APPEND,
    OperationType.REMOVE_SOURCE,
    OperationType.REINDEX,
)


class IngestService:
    """Scans sources for operations and answers ingest's commands; built by
    ``bootstrap.py``, which makes every collaborator it is handed."""

    def __init__(
        self,
        app: IngestApplication,
        bus: Bus,
        roots: SourceRoots,
        uploads: UploadedFiles,
        *,
        writer: WriterThread,
        workers: ThreadPoolExecutor,
        pool: ExtractionPool,
        runner: ScanRunner,
        scans: ScanTasks,
        resumption: WorkResumption,
        content: DocumentContent,
        endings: OperationEndings,
        max_file_bytes: int,
    ) -> None:
        self.app = app
        self.bus = bus
        self.roots = roots
        self.uploads = uploads
        self.writer = writer
        self.relay = writer.relay
        self.workers = workers
        self.pool = pool
        self.runner = runner
        self.scans = scans
        self.resumption = resumption
        self.content = content
        self.endings = endings
        self.max_file_bytes = max_file_bytes
        self.tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list[Subscription] = []

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the writer thread: the application is touched by it alone."""
        return await self.writer.call(fn, *args)

    async def start(self, stop: asyncio.Event) -> None:
        # The extraction processes start beside the rest of start-up, not in the first scan.
        self.tasks.append(asyncio.ensure_future(self.pool.warm()))
        self.writer.attach(self.app)
        await self.bus.ensure_streams()
        await self.bus.serve(
            command_subject(INGEST, "ValidateSource"),
            ValidateSource,
            self.validate_source,
            queue=INGEST,
        )
        # Every replica hears every ending: the one running the scan may not be the one
        # the durable consumer below hands the ending to.
        for ending in ENDINGS:
            subject = event_filter(aggregate_type="operation", event_type=ending)
            self._subscriptions.append(await self.bus.nc.subscribe(subject, cb=self._heard_end))
        resume = self.scans.take_over(lambda: self.call(self.app.open_scans), stop)
        self.tasks.append(asyncio.ensure_future(resume))
        await self.bus.serve(
            command_subject(INGEST, "ResumeWork"), ResumeWork, self.resume_work, queue=INGEST
        )
        await self.bus.serve(
            command_subject(INGEST, "ListDocuments"),
            ListDocuments,
            self.list_documents,
            queue=INGEST,
        )
        await self.content.serve()
        embedded = follow_event_batches(
            self.bus,
            EMBEDDED,
            event_filter(event_type="ChunksEmbedded"),
            self.writer.on_events(self.app.note_embedded),
            stop,
        )
        failed = follow_events(
            self.bus,
            EMBEDDING_FAILED,
            event_filter(event_type="EmbeddingFailed"),
            self.writer.on_event(self.app.note_embedding_failed),
            stop,
        )
        self.tasks += [asyncio.ensure_future(embedded), asyncio.ensure_future(failed)]
        filter_subject = event_filter(event_type="OperationRequested")
        follow = follow_events(
            self.bus, CONSUMER, filter_subject, self.on_operation_requested, stop
        )
        self.tasks.append(asyncio.ensure_future(follow))
        for ending in ENDINGS:
            follow = follow_events(
                self.bus,
                f"ingest-{ending}",
                event_filter(aggregate_type="operation", event_type=ending),
                self.on_operation_ended,
                stop,
            )
            self.tasks.append(asyncio.ensure_future(follow))
        self.tasks.append(asyncio.ensure_future(self.relay.run(stop)))

    async def close(self) -> None:
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        self._subscriptions.clear()
        await self.content.close()
        await self.scans.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.workers.shutdown(wait=True, cancel_futures=True)
        self.writer.shutdown()

    async def idle(self) -> None:
        """Wait for the scans running now (tests, orderly shutdown)."""
        await self.scans.idle()

    # -- handlers ------------------------------------------------------------------
    async def list_documents(self, query: ListDocuments) -> Page[DocumentView]:
        """The documents with their status as of the question: the embedders' reports
        published before it are folded in first (an operation a client saw complete
        has its documents ``indexed``), waiting at most two seconds for them."""
        await caught_up(self.bus, (EMBEDDED, EMBEDDING_FAILED))
        return await self.call(self.app.list_documents, query)

    async def resume_work(self, command: ResumeWork) -> WorkResumed:
        """The operation stalled: what this service published for it may be lost too, so
        its relay checks the stream first (``OutboxRelay.verify``)."""
        await self.relay.verify()
        return await self.resumption.resume(command)

    async def validate_source(self, request: ValidateSource) -> ValidatedSource:
        """Is the path a source this user may add (SPEC §4, §11), and its record columns.
        ``request.roots`` narrows plain paths to the roots granted to the user; an upload
        is checked against its collection by the collections service instead."""
        if not request.path.startswith(UPLOAD_SCHEME):
            resolved = await asyncio.to_thread(self.roots.resolve, request.path, request.roots)
            return await self._validate(request, resolved, resolved.kind)
        local = await self.uploads.fetch(request.path)  # from the object store first
        try:
            resolved = await asyncio.to_thread(self.roots.resolve_upload, str(local))
            return await self._validate(request, resolved, SourceKind.UPLOAD)
        except CommandError:
            # Refused, so not a source: its copy here is not kept (the gateway removes
            # the stored file). A source's copy is fetched again whenever it is missing.
            await asyncio.to_thread(local.unlink, missing_ok=True)
            raise

    async def _validate(
        self, request: ValidateSource, resolved: ResolvedSource, kind: SourceKind
    ) -> ValidatedSource:
        if resolved.kind is SourceKind.FILE and not is_supported(str(resolved.path)):
            supported = ", ".join(sorted(SUPPORTED_TYPES))
            raise CommandError(
                ErrorCode.INVALID,
                f"unsupported file type .{file_type(str(resolved.path))}; supported: {supported}",
            )
        if resolved.kind is SourceKind.FILE and is_record_file(str(resolved.path)):
            selection = ColumnSelection(
                tuple(request.text_columns), tuple(request.context_columns), request.id_column
            )
            columns = await asyncio.to_thread(self._check_columns, str(resolved.path), selection)
        else:
            columns = []
        return ValidatedSource(path=str(resolved.path), kind=kind, columns=columns)

    def _check_columns(self, path: str, selection: ColumnSelection) -> list[str]:
        """A record file whose named columns are missing is refused now, not at scan time;
        the columns it has are answered (the web UI offers them to choose from)."""
        try:
            return check_record_columns(path, selection, self.max_file_bytes)
        except DocumentError as exc:
            raise CommandError(ErrorCode.INVALID, f"{path}: {exc.reason}") from None

    async def on_operation_requested(self, envelope: EventEnvelope) -> None:
        request = envelope.event
        if not isinstance(request, OperationRequested) or request.operation_type not in SCANNED:
            return
        if request.operation_id in self.scans:
            return  # a redelivery while its scan runs
        if await self.endings.ended(request.collection_id, request.operation_id):
            return  # cancelled (or failed) before its scan began: nothing to do
        scan = await self.call(self.app.start_scan, request, scan_sources(request))
        if not scan.completed and request.operation_id not in self.scans:
            self.scans.launch(request.operation_id)

    async def _heard_end(self, msg: Msg) -> None:
        """An operation ended: its scan stops at the next file if it runs here (at most
        once delivered; ``on_operation_ended`` and ``ScanRunner.run`` make it sure)."""
        try:
            envelope = EventEnvelope.model_validate_json(msg.data)
        except ValueError:
            return
        if envelope.aggregate_id in self.scans:
            self.runner.stopping.add(envelope.aggregate_id)

    async def on_operation_ended(self, envelope: EventEnvelope) -> None:
        """Stop the operation's scan: the files under way finish, so what is registered
        has its work published (kept, and counted by the collections service), and the
        scan completes with ``stopped`` statistics. A scan that is not running here (an
        interrupted one) is launched just to be stopped the same way; if another replica
        holds it, that one heard the ending too (``_heard_end``). What a stopped reindex
        changed in the registry is undone (``reindex_ended``)."""
        operation_id = envelope.aggregate_id
        # Marked first: a scan starting this very moment stops at its first file.
        self.runner.stopping.add(operation_id)
        open_scan = await self.call(self.app.is_open_scan, operation_id)
        if open_scan and operation_id not in self.scans:  # checked after the await
            self.scans.launch(operation_id)
        elif not open_scan:  # a reindex failing after its scan (validation, say)
            await self.call(self.app.reindex_ended, operation_id)


def scan_sources(request: OperationRequested) -> list[ScanSource]:
    """The sources the scan reads, as the operation describes them (``sources``): each
    of ``source_ids`` (one it does not describe fails as unknown); for ``remove_source``
    the removed ones by id, with the collection's other sources, scanned again where
    they held content of the removed ones."""
    described = {s.source_id: ScanSource.described(s) for s in request.sources if not s.removed}
    if request.operation_type is OperationType.REMOVE_SOURCE:
        removed = set(request.source_ids)
        others = [source for sid, source in described.items() if sid not in removed]
        return [ScanSource(sid, REMOVED, "") for sid in request.source_ids] + others
    gone = {source.source_id for source in request.sources if source.removed}
    return [
        described.get(sid) or ScanSource(sid, MISSING, f"source {sid}")
        for sid in request.source_ids
        if sid not in gone  # removed while the operation waited: nothing to scan
    ]
