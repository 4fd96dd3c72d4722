"""``python -m embedder_service``: the composition root of a stand-alone embedder."""

from __future__ import annotations

import asyncio

from semantik_runtime.bus import Bus
from semantik_runtime.metrics import observe_consumer_lag
from semantik_runtime.service_process import configure_logging, run_service, serve_until_stopped
from semantik_runtime.vectors import open_vector_store

from .bootstrap import build_embedder_service
from .config import EmbedderSettings
from .model import load_model


async def main() -> None:
    settings = EmbedderSettings()
    configure_logging(settings.log_level)
    model = await asyncio.to_thread(
        load_model,
        settings.model_name,
        settings.device,
        settings.models_path,
        settings.precision,
        settings.data_dir / "embedder",  # auto's choice and an int8 export, kept for the next start
        settings.query_precision,
    )
    store = open_vector_store(
        settings.qdrant_url,
        settings.data_dir,
        api_key=settings.qdrant_api_key,
        edge_search_threads=settings.edge_search_threads,
        layout=settings.qdrant_layout,
    )
    bus = await Bus.connect(settings.nats_url, "embedder", settings.nats_credentials)
    service = build_embedder_service(
        bus,
        store,
        model,
        batch_chunks=settings.batch_chunks,
        lanes=settings.lanes,
        optimize_after=settings.optimize_after_seconds,
        ack_wait=settings.ack_wait_seconds,
        orphan_sweep_seconds=settings.orphan_sweep_seconds,
    )

    await serve_until_stopped(
        "embedder",
        settings,
        [service],
        buses=[bus],
        resources=[store],
        scrape=lambda: observe_consumer_lag(bus.js),
    )


if __name__ == "__main__":
    run_service(main())
