"""``python -m ingest_service``: the composition root of the ingest service."""

from __future__ import annotations

from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env
from semantik_runtime.service_process import configure_logging, run_service, serve_until_stopped

from .application import IngestApplication
from .bootstrap import build_ingest_service
from .config import IngestSettings
from .extraction.pool import ExtractionPool
from .leases import replica_name
from .sources.roots import SourceRoots
from .sources.uploaded import UploadedFiles
from .sync.service import build_sync_service


async def main() -> None:
    settings = IngestSettings()
    configure_logging(settings.log_level)
    bus = await Bus.connect(settings.nats_url, "ingest", settings.nats_credentials)
    pool = ExtractionPool(
        settings.extract_workers,
        settings.extract_niceness,
        settings.extract_timeout_seconds,
        settings.models_path,
    )
    owner = replica_name(settings.replica_name)  # one name in both kinds of leases
    app = IngestApplication(env=event_store_env("ingest", settings.database_url, settings.data_dir))
    service = build_ingest_service(
        app,
        bus,
        SourceRoots(settings.source_roots, data_dir=settings.data_dir, own=settings.own_data),
        pool,
        UploadedFiles(bus, settings.data_dir / "uploads"),
        max_file_bytes=settings.max_file_bytes,
        embed_max_pending=settings.embed_max_pending,
        scan_workers=settings.scan_workers,
        scan_lease_seconds=settings.scan_lease_seconds,
        owner=owner,
    )

    sync = build_sync_service(
        bus,
        SourceRoots(settings.source_roots, data_dir=settings.data_dir, own=settings.own_data),
        lease_seconds=settings.sync_lease_seconds,
        refresh_seconds=settings.sync_refresh_seconds,
        owner=owner,
    )
    await serve_until_stopped(
        "ingest", settings, [service, sync], buses=[bus], resources=[app, pool]
    )


if __name__ == "__main__":
    run_service(main())
