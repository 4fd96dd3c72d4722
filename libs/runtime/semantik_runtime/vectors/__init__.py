"""Vector storage behind one port, with a Qdrant Edge and a Qdrant server adapter."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .port import (
    GenerationNotFoundError,
    Hit,
    Point,
    SearchMode,
    SparseVector,
    VectorStore,
)

if TYPE_CHECKING:
    from .server import QdrantLayout

__all__ = [
    "GenerationNotFoundError",
    "Hit",
    "Point",
    "SearchMode",
    "SparseVector",
    "VectorStore",
    "open_vector_store",
]


def open_vector_store(
    qdrant_url: str | None,
    data_dir: Path,
    *,
    api_key: str | None = None,
    edge_search_threads: int = 1,
    layout: QdrantLayout | None = None,
) -> VectorStore:
    """Open the store the settings ask for: the Qdrant server at ``qdrant_url`` if set,
    its new generations laid out as ``layout`` says, else Qdrant Edge shards under
    ``data_dir / "qdrant"`` (owned by this process alone), each searching with
    ``edge_search_threads`` threads.
    """
    # Imported here so that importing the port (as semantik_runtime.sparse does) loads
    # neither engine's client library.
    if qdrant_url:
        from qdrant_client import QdrantClient

        from .server import QdrantServerVectorStore

        return QdrantServerVectorStore(QdrantClient(url=qdrant_url, api_key=api_key), layout)
    from .edge import EdgeVectorStore

    return EdgeVectorStore(data_dir / "qdrant", search_threads=edge_search_threads)
