"""``python -m collections_service``: the composition root of the collections service."""

from __future__ import annotations

from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env
from semantik_runtime.models import available_infos
from semantik_runtime.service_process import configure_logging, run_service, serve_until_stopped

from .application import CollectionsApplication
from .bootstrap import build_collections_service
from .config import CollectionsSettings
from .quota import Quotas


async def main() -> None:
    settings = CollectionsSettings()
    configure_logging(settings.log_level)
    bus = await Bus.connect(settings.nats_url, "collections", settings.nats_credentials)
    app = CollectionsApplication(
        env=event_store_env("collections", settings.database_url, settings.data_dir),
        quotas=Quotas(settings.max_collections_per_user, settings.collection_size_limit_gb),
        find_models=lambda: available_infos(settings.models_path),
        max_queued_operations=settings.max_queued_operations,
    )
    service = build_collections_service(
        app,
        bus,
        operation_timeout_seconds=settings.operation_timeout_seconds,
        progress_interval_seconds=settings.progress_interval_seconds,
        operation_stall_seconds=settings.operation_stall_seconds,
        embedder_wait_seconds=settings.embedder_wait_seconds,
        reindex_grace_seconds=settings.reindex_grace_seconds,
        reindex_min_overlap=settings.reindex_min_overlap,
    )

    await serve_until_stopped("collections", settings, [service], buses=[bus], resources=[app])


if __name__ == "__main__":
    run_service(main())
