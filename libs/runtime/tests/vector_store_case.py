"""What the VectorStore contract tests share: the points every adapter stores, the case
they extend, and one ``store`` fixture per adapter (Qdrant Edge, and qdrant-client's local
mode standing in for a Qdrant server). A contract class mixes with an adapter class to make
the case pytest runs for that adapter."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient
from semantik_runtime.sparse import document_vector
from semantik_runtime.vectors import Point, VectorStore
from semantik_runtime.vectors.edge import EdgeVectorStore
from semantik_runtime.vectors.server import QdrantServerVectorStore

DIM = 8
GEN = "c1_g1"
CHUNKS = {
    # (document, chunk index): (text, axis of its one-hot dense vector)
    ("doc-a", 0): ("protein folding in yeast cells", 0),
    ("doc-a", 1): ("yeast metabolism and fermentation of sugar", 1),
    ("doc-b", 0): ("neural networks learn representations of images", 2),
    ("doc-c", 0): ("running shoes for marathon runners", 3),
}


def point_id(document_id: str, chunk: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{document_id}/{chunk}"))


def axis(index: int, noise: float = 0.0) -> list[float]:
    vector = [noise] * DIM
    vector[index] = 1.0
    return vector


def make_point(document_id: str, chunk: int, **extra: object) -> Point:
    text, dim = CHUNKS[(document_id, chunk)]
    payload = {"document_id": document_id, "chunk_index": chunk, "text": text, **extra}
    return Point(point_id(document_id, chunk), axis(dim), document_vector(text), payload)


ALL = [make_point(doc, chunk) for doc, chunk in CHUNKS]


class VectorStoreCase:
    """The base of every contract: an adapter class supplies the ``store`` fixture."""

    @pytest.fixture
    def filled(self, store: VectorStore) -> VectorStore:
        store.create_generation(GEN, DIM)
        store.upsert(GEN, ALL)
        return store


class EdgeStore:
    """The Qdrant Edge adapter, its shards in a temporary directory."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[VectorStore]:
        store = EdgeVectorStore(tmp_path / "qdrant")
        yield store
        store.close()


class QdrantLocalStore:
    """qdrant-client's local mode, in memory, standing in for a Qdrant server."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[VectorStore]:
        store = QdrantServerVectorStore(QdrantClient(":memory:"))
        yield store
        store.close()
