"""Fixtures of the search tests: a Qdrant Edge store holding two small collections
(encoded with the real model), a private NATS server, an embedder answering query
embeddings on the same store (as in the embedded default), and the search service."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from embedder_service.app import EmbedderService
from embedder_service.bootstrap import build_embedder_service
from embedder_service.model import EmbeddingModel, load_model
from search_service.app import SearchService
from semantik_contracts.work import generation_name
from semantik_runtime.bus import Bus
from semantik_runtime.sparse import document_vector
from semantik_runtime.vectors import Point, VectorStore
from semantik_runtime.vectors.edge import EdgeVectorStore

ASTRONOMY = [
    "The telescope observed a distant spiral galaxy through the night.",
    "Astronomers measured the redshift of the galaxy with a large telescope.",
    "Each galaxy holds billions of stars bound together by gravity.",
]
BAKING = [
    "Knead the bread dough until it is smooth, then let the yeast rise.",
    "Bake the sourdough loaf in a hot oven until the crust is brown.",
]
COMPILERS = [
    "A compiler translates source code into machine instructions.",
    "The parser builds a syntax tree before the compiler emits code.",
]
GARDENING = [
    "Tomatoes need full sun, rich soil and regular watering in the garden.",
    "Prune the roses in early spring and mulch the garden beds.",
]
PLANETS = ["Through a backyard telescope the planets Jupiter and Saturn show their moons."]
INTEREST = ["Central banks raise interest rates to slow inflation and cool lending."]

#: Where each document lives: its directory, its file type, and its record columns
#: (the payload ingest writes: ``path``, ``file_type``, ``columns`` of a record source).
PLACES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "astronomy": ("science", "md", {"topic": "space", "year": 2021}),
    "baking": ("kitchen", "txt", {"topic": "food", "year": 2019}),
    "compilers": ("science", "md", {"topic": "computing", "year": 2021}),
    "gardening": ("home", "txt", {"topic": "garden", "year": 2020}),
    "planets": ("science/hobby", "md", {"topic": "space", "year": 2020}),
    "interest": ("finance", "csv", {"topic": "economy", "year": 2022}),
}


@dataclass(frozen=True)
class Corpus:
    """Two collections: ``first`` (generation 1) and ``second`` (generation 2)."""

    first: uuid.UUID
    second: uuid.UUID
    documents: dict[str, uuid.UUID]  # short name → document id


@pytest.fixture(scope="session")
def model() -> EmbeddingModel:
    return load_model(device="cpu")


def write_collection(
    store: VectorStore,
    model: EmbeddingModel,
    collection: uuid.UUID,
    generation: int,
    documents: dict[str, list[str]],
    ids: dict[str, uuid.UUID],
) -> None:
    name = generation_name(collection, generation)
    store.create_generation(name, model.dimension)
    for short, texts in documents.items():
        document = ids[short]
        directory, file_type, columns = PLACES.get(short, ("misc", "txt", {}))
        vectors = model.encode(texts)
        store.upsert(
            name,
            [
                Point(
                    id=str(uuid.uuid5(document, str(index))),
                    dense=vectors[index],
                    sparse=document_vector(text),
                    payload={
                        "path": f"/data/{directory}/{short}.{file_type}",
                        "file_type": file_type,
                        "columns": columns,
                        "source_id": "s1",
                        "text": text,
                        "document_id": str(document),
                        "collection_id": str(collection),
                        "chunk_index": index,
                    },
                )
                for index, text in enumerate(texts)
            ],
        )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VectorStore]:
    edge = EdgeVectorStore(tmp_path / "qdrant")
    yield edge
    edge.close()


@pytest.fixture
def corpus(store: VectorStore, model: EmbeddingModel) -> Corpus:
    first, second = uuid.uuid4(), uuid.uuid4()
    names = ["astronomy", "baking", "compilers", "gardening", "planets", "interest"]
    ids = {short: uuid.uuid4() for short in names}
    write_collection(
        store,
        model,
        first,
        1,
        {"astronomy": ASTRONOMY, "baking": BAKING, "compilers": COMPILERS},
        ids,
    )
    write_collection(
        store,
        model,
        second,
        2,
        {"gardening": GARDENING, "planets": PLANETS, "interest": INTEREST},
        ids,
    )
    return Corpus(first, second, ids)


@pytest.fixture
async def private_bus(private_nats_url: str) -> AsyncIterator[Bus]:
    connection = await Bus.connect(private_nats_url, "search-test")
    await connection.ensure_streams()
    yield connection
    await connection.close()


SearchStarter = Callable[..., Awaitable[SearchService]]


@pytest.fixture
async def start_search(
    private_bus: Bus, store: VectorStore, model: EmbeddingModel, corpus: Corpus
) -> AsyncIterator[SearchStarter]:
    """Start search and the embedder on one store and one connection, as one process
    hosts them; keyword arguments go to the search service (reranker, its problem)."""
    stop = asyncio.Event()
    started: list[SearchService | EmbedderService] = []

    async def start(**options: Any) -> SearchService:
        embedder = build_embedder_service(private_bus, store, model)
        service = SearchService(private_bus, store, **options)
        for part in (embedder, service):
            await part.start(stop)
            started.append(part)
        return service

    yield start
    stop.set()
    for part in reversed(started):
        await part.close()


@pytest.fixture
async def search(start_search: SearchStarter) -> SearchService:
    return await start_search()
