"""The ingest service's composition root (cosmicpython's ``bootstrap``): the writer
thread of its application and its file-reading threads are built here and handed in.
``__main__`` and the tests build the service here."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from semantik_runtime.bus import Bus
from semantik_runtime.writer_thread import WriterThread

from .app import IngestService
from .application import IngestApplication
from .extraction.pool import ExtractionPool
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
) -> IngestService:
    return IngestService(
        app,
        bus,
        roots,
        pool,
        uploads,
        writer=WriterThread(app, bus, "ingest"),
        workers=ThreadPoolExecutor(scan_workers, thread_name_prefix="ingest-scan"),
        max_file_bytes=max_file_bytes,
        embed_max_pending=embed_max_pending,
    )
