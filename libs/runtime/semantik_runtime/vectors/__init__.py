"""Vector storage behind one port, with a Qdrant Edge and a Qdrant server adapter."""

from __future__ import annotations

from ..settings import ServiceSettings
from .port import (
    GenerationNotFoundError,
    Hit,
    Point,
    SearchMode,
    SparseVector,
    VectorStore,
)

__all__ = [
    "GenerationNotFoundError",
    "Hit",
    "Point",
    "SearchMode",
    "SparseVector",
    "VectorStore",
    "open_vector_store",
]


def open_vector_store(settings: ServiceSettings) -> VectorStore:
    """Open the store the settings ask for: the Qdrant server at ``QDRANT_URL`` if set,
    else Qdrant Edge shards under ``<data dir>/qdrant`` (owned by this process alone),
    each searching with ``SEMANTIK_EDGE_SEARCH_THREADS`` threads.
    """
    # Imported here so that importing the port (as semantik_runtime.sparse does) loads
    # neither engine's client library.
    if settings.qdrant_url:
        from qdrant_client import QdrantClient

        from .server import QdrantServerVectorStore

        client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key)
        return QdrantServerVectorStore(client)
    from .edge import EdgeVectorStore

    return EdgeVectorStore(
        settings.data_dir / "qdrant", search_threads=settings.edge_search_threads
    )
