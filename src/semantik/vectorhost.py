"""``python -m semantik.vectorhost``: embedder and search in one process (SPEC §5).

An embedded Qdrant Edge shard admits one process, so in the embedded default the only
writer (the embedders, one per model in use: modelhost.py) and the reader (search)
share one store object here. With
``QDRANT_URL`` they run as separate processes instead (``python -m embedder_service``
and ``python -m search_service``).
"""

from __future__ import annotations

import asyncio

from embedder_service.app import EmbedderService
from embedder_service.bootstrap import build_embedder_service
from embedder_service.config import EmbedderSettings
from embedder_service.model import EmbeddingModel, load_model
from search_service.app import SearchService
from search_service.config import SearchSettings
from search_service.rerank import load_reranker
from semantik_runtime.bus import Bus
from semantik_runtime.metrics import observe_consumer_lag
from semantik_runtime.service_process import configure_logging, run_service, serve_until_stopped
from semantik_runtime.vectors import open_vector_store

from .modelhost import ModelHost


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
    # One NATS user for the process, the union of the embedder's and search's
    # (semantik_runtime.nats_auth, VECTOR_HOST).
    embed_bus = await Bus.connect(settings.nats_url, "embedder", settings.nats_credentials)
    search_bus = await Bus.connect(settings.nats_url, "search", settings.nats_credentials)

    def embedder(bus: Bus, model: EmbeddingModel) -> EmbedderService:
        return build_embedder_service(
            bus,
            store,
            model,
            batch_chunks=settings.batch_chunks,
            lanes=settings.lanes,
            optimize_after=settings.optimize_after_seconds,
            ack_wait=settings.ack_wait_seconds,
            orphan_sweep_seconds=settings.orphan_sweep_seconds,
        )

    models = ModelHost(
        settings.nats_url,
        embedder(embed_bus, model),
        embedder,
        device=settings.device,
        models_dir=settings.models_path,
        precision=settings.precision,
        query_precision=settings.query_precision,
        credentials=settings.nats_credentials,
    )
    search_settings = SearchSettings()
    reranker, problem = await asyncio.to_thread(
        load_reranker, search_settings.reranker_path, search_settings.reranker_device
    )
    # Search asks this process's embedders for query embeddings directly.
    search = SearchService(search_bus, store, reranker, problem, local_queries=models.queries)

    await serve_until_stopped(
        "vector-host",
        settings,
        [models, search],
        buses=[embed_bus, search_bus],
        resources=[store],
        scrape=lambda: observe_consumer_lag(embed_bus.js),
    )


if __name__ == "__main__":
    run_service(main())
