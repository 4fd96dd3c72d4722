"""Facets never change a search's results: their candidates come from the pool the
page's own query ranks (its prefetch unchanged), over a real NATS JetStream and a real
Qdrant Edge store, with the real model, in a collection larger than that prefetch."""

from __future__ import annotations

import uuid

import pytest
from embedder_service.model import EmbeddingModel
from search_service.app import SearchService
from semantik_contracts import SearchType
from semantik_contracts.search import SearchResponse, SearchTarget
from semantik_contracts.work import generation_name
from semantik_runtime.bus import Bus
from semantik_runtime.sparse import document_vector
from semantik_runtime.vectors import Point, VectorStore

from .test_search import MODEL, ask

pytestmark = pytest.mark.integration

PARTS = ["mount", "dome", "lens", "shutter", "motor", "cable"]
FAULTS = ["wobbles", "squeaks", "drifts", "rattles", "sticks"]
KEYS = ["file_type", "source_id"]
TYPES = ["pdf", "md", "txt", "pdf", "csv"]


def write_log(store: VectorStore, model: EmbeddingModel, documents: int) -> uuid.UUID:
    """A collection of ``documents`` documents of two chunks each (160: 320 points, more
    than a prefetch of 100 a side holds)."""
    collection = uuid.uuid4()
    name = generation_name(collection, 1)
    store.create_generation(name, model.dimension)
    texts: list[str] = []
    ids: list[str] = []
    payloads: list[dict[str, object]] = []
    for number in range(documents):
        document = str(uuid.uuid4())
        part, fault = PARTS[number % 6], FAULTS[number % 5]
        # Terms and lengths differ from one document to the next: no two BM25 scores tie
        # (the engine returns any of equal scores at a query's cut).
        again = " again" * (number % 20)
        for index, text in enumerate(
            [
                f"Log {number}: the telescope {part} {fault}{' telescope' * (number // 20)}"
                f"{again}.",
                f"Checked the {part} after night {number}{' night' * (number // 20)}{again}.",
            ]
        ):
            texts.append(text)
            ids.append(str(uuid.uuid5(uuid.UUID(document), str(index))))
            payloads.append(
                {
                    "path": f"/data/log/{number}.{TYPES[number % 5]}",
                    "file_type": TYPES[number % 5],
                    "source_id": f"log-{number % 3}",
                    "text": text,
                    "document_id": document,
                    "collection_id": str(collection),
                    "chunk_index": index,
                }
            )
    vectors = model.encode(texts)
    points = [
        Point(point, vector, document_vector(text), payload)
        for point, text, vector, payload in zip(ids, texts, vectors, payloads, strict=True)
    ]
    store.upsert(name, points)
    return collection


def target(collection: uuid.UUID) -> SearchTarget:
    return SearchTarget(collection_id=collection, model_name=MODEL, generation=1)


def page(response: SearchResponse) -> list[tuple[object, ...]]:
    return [
        (r.collection_id, r.chunk_id, r.score, r.rank, r.snippet, r.highlights)
        for r in response.results
    ] + [(response.offset, response.has_more)]


@pytest.mark.parametrize("mode", list(SearchType))
async def test_a_search_returns_the_same_results_with_facets_or_without(
    private_bus: Bus,
    store: VectorStore,
    model: EmbeddingModel,
    search: SearchService,
    mode: SearchType,
) -> None:
    log = write_log(store, model, 160)
    tickets = write_log(store, model, 30)
    query = "telescope mount wobbles at night"
    for chosen in ([target(log)], [target(log), target(tickets)]):
        for limit, offset in ((10, 0), (10, 10)):
            plain = await ask(
                private_bus, query, chosen, limit=limit, offset=offset, search_type=mode
            )
            assert plain.facets == {} and plain.results
            for depth in (10, 200):
                faceted = await ask(
                    private_bus,
                    query,
                    chosen,
                    limit=limit,
                    offset=offset,
                    search_type=mode,
                    facets=KEYS,
                    facet_depth=depth,
                )
                assert page(faceted) == page(plain), (chosen, limit, offset, depth)
                assert (faceted.warnings, faceted.partial) == ([], False)
                # Up to facet_depth candidates: the pool holds more than the page.
                counted = sum(faceted.facets["file_type"].values())
                assert counted == sum(faceted.facets["source_id"].values())
                assert min(depth, len(plain.results)) <= counted <= depth
