"""``python -m search_service``: the composition root of a stand-alone search service.

It only reads the vector store; with Qdrant Edge (no ``QDRANT_URL``) the store admits
one process, which the embedder holds, so stand-alone search needs a Qdrant server.
"""

from __future__ import annotations

import asyncio

from semantik_runtime.bus import Bus
from semantik_runtime.service_process import configure_logging, run_service, serve_until_stopped
from semantik_runtime.vectors import open_vector_store

from .app import SearchService
from .config import SearchSettings
from .rerank import load_reranker


async def main() -> None:
    settings = SearchSettings()
    configure_logging(settings.log_level)
    store = open_vector_store(
        settings.qdrant_url,
        settings.data_dir,
        api_key=settings.qdrant_api_key,
        edge_search_threads=settings.edge_search_threads,
        layout=settings.qdrant_layout,
    )
    bus = await Bus.connect(settings.nats_url, "search", settings.nats_credentials)
    reranker, problem = await asyncio.to_thread(
        load_reranker, settings.reranker_path, settings.reranker_device
    )
    service = SearchService(bus, store, reranker, problem)

    await serve_until_stopped("search", settings, [service], buses=[bus], resources=[store])


if __name__ == "__main__":
    run_service(main())
