"""The collections service's composition root (cosmicpython's ``bootstrap``): it builds
the service's collaborators and hands them in; the service constructs none itself.
``__main__`` and the tests both build the service here."""

from __future__ import annotations

from semantik_runtime.bus import Bus
from semantik_runtime.writer_thread import WriterThread

from .app import CollectionsService
from .application import CollectionsApplication
from .operation_process import OperationProcess
from .reindex_flow import ReindexFlow


def build_collections_service(
    app: CollectionsApplication,
    bus: Bus,
    *,
    operation_timeout_seconds: float,
    progress_interval_seconds: float = 1.0,
    operation_stall_seconds: float = 60.0,
    embedder_wait_seconds: float = 60.0,
    reindex_grace_seconds: float = 300.0,
    reindex_min_overlap: float = 0.5,
) -> CollectionsService:
    # The application runs on the writer's one thread; the reindex flow calls it there.
    writer = WriterThread(app, bus, "collections")
    reindex = ReindexFlow(
        app,
        bus,
        writer.call,
        grace_seconds=reindex_grace_seconds,
        min_overlap=reindex_min_overlap,
    )
    return CollectionsService(
        app,
        bus,
        writer=writer,
        process=OperationProcess(app),
        reindex=reindex,
        operation_timeout_seconds=operation_timeout_seconds,
        progress_interval_seconds=progress_interval_seconds,
        operation_stall_seconds=operation_stall_seconds,
        embedder_wait_seconds=embedder_wait_seconds,
    )
