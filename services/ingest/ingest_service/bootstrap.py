"""The ingest service's composition root (cosmicpython's ``bootstrap``): every
collaborator is built here and handed in (the writer thread of its application, the
file-reading threads, the work gates, the indexers, the scan runner, the resumption,
the content reader); nothing below constructs its own. ``__main__`` and the tests
build the service here."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from semantik_contracts.sync import SCAN_LEASES_BUCKET
from semantik_runtime.bus import Bus
from semantik_runtime.writer_thread import WriterThread

from .app import IngestService
from .application import IngestApplication
from .content import DocumentContent
from .extraction.pool import ExtractionPool
from .indexing.endings import OperationEndings
from .indexing.files import FileIndexer
from .indexing.record_files import RecordIndexer
from .indexing.removal import DocumentRemoval
from .indexing.resume import WorkResumption
from .indexing.scan_claims import ScanClaims
from .indexing.scan_runner import ScanRunner
from .indexing.scan_tasks import ScanTasks
from .indexing.unit_indexer import UnitIndexer
from .indexing.work import WorkGates
from .leases import Leases, replica_name
from .sources.roots import SourceRoots
from .sources.uploaded import UploadedFiles


def build_ingest_service(
    app: IngestApplication,
    bus: Bus,
    roots: SourceRoots,
    pool: ExtractionPool,
    uploads: UploadedFiles,
    *,
    max_file_bytes: int,
    embed_max_pending: int,
    scan_workers: int = 2,
    scan_lease_seconds: float = 30.0,
    owner: str | None = None,
) -> IngestService:
    """``owner``: this replica's name in the leases (a fresh one if not given)."""
    writer = WriterThread(app, bus, "ingest")
    call = writer.call
    workers = ThreadPoolExecutor(scan_workers, thread_name_prefix="ingest-scan")
    # Local copies of uploads are read as ``upload://`` sources alone: a plain path
    # never reaches them (another collection's upload), whatever the roots say.
    roots = roots.with_uploads(uploads.directory)
    gates = WorkGates(bus, embed_max_pending)
    removal = DocumentRemoval(app, bus, call=call)
    units = UnitIndexer(
        app,
        pool,
        call=call,
        workers=workers,
        remove=removal.remove,
        max_file_bytes=max_file_bytes,
        max_message_bytes=lambda: bus.nc.max_payload,
    )
    records = RecordIndexer(app, units, call=call, remove=removal.remove)
    files = FileIndexer(app, units, records, call=call)
    endings = OperationEndings(bus)
    runner = ScanRunner(
        app, roots, uploads, files, removal, call=call, gate=gates, ended=endings.ended
    )
    leases = Leases(
        bus,
        owner or replica_name(),
        scan_lease_seconds,
        bucket=SCAN_LEASES_BUCKET,
        prefix="scan",
        description="Which ingest replica runs each scan",
    )
    scans = ScanTasks(runner, ScanClaims(leases))
    resumption = WorkResumption(
        app,
        bus,
        roots,
        units,
        call=call,
        gate=gates,
        scanning=scans.is_running,
        launch=scans.launch,
    )
    return IngestService(
        app,
        bus,
        roots,
        uploads,
        writer=writer,
        workers=workers,
        pool=pool,
        runner=runner,
        scans=scans,
        resumption=resumption,
        content=DocumentContent(app, bus, roots, uploads, call=call),
        endings=endings,
        max_file_bytes=max_file_bytes,
    )
