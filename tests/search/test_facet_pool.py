"""Facets never change a search's results: their candidates come from the pool the
page's own query ranks (its prefetch unchanged), over a real NATS JetStream and a real
Qdrant Edge store, with the real model, in a collection larger than that prefetch."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from embedder_service.model import EmbeddingModel
from search_service.app import SearchService
from search_service.facets import count_facets, fused_candidates, payload_fields, pool_share
from search_service.fusion import RankedList
from search_service.retrieval import MAX_FETCH, Found, search_pool
from semantik_contracts import SearchType
from semantik_contracts.search import SearchResponse, SearchTarget
from semantik_contracts.work import generation_name
from semantik_runtime.bus import Bus
from semantik_runtime.models import hybrid_weight
from semantik_runtime.sparse import document_vector, query_vector
from semantik_runtime.vectors import Hit, Point, VectorStore

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


async def test_a_pool_read_to_the_end_of_its_share_is_asked_for_whole(
    private_bus: Bus, store: VectorStore, model: EmbeddingModel, search: SearchService
) -> None:
    """Each pool is first asked for twice its even share of the candidates (60 chunks of
    two pools for 60 documents); a collection of 3 documents leaves 57 to the other,
    more than its first 60 chunks hold, so that pool is asked for whole: the facets
    count what each collection's whole pool gives."""
    log = write_log(store, model, 160)
    few = write_log(store, model, 3)
    chosen = [target(log), target(few)]
    query = "telescope mount wobbles at night"
    depth = 60
    assert pool_share(depth, len(chosen)) == 60

    faceted = await ask(private_bus, query, chosen, facets=KEYS, facet_depth=depth)

    dense = model.encode_queries([query])[0].tolist()

    def pool(collection: uuid.UUID, candidates: int) -> Found:
        return search_pool(
            store,
            generation_name(collection, 1),
            "hybrid",
            dense,
            query_vector(query),
            11,
            sparse_weight=hybrid_weight(MODEL),
            fields=payload_fields(KEYS),
            candidates=candidates,
        )

    first = pool(log, 60)
    assert first.cut and len({hit.payload["document_id"] for hit in first.pool}) < depth - 3
    whole = [RankedList(c, pool(c, MAX_FETCH).pool) for c in (log, few)]
    candidates, short = fused_candidates(whole, depth)
    assert short == [] and len(candidates) == depth
    assert faceted.facets == count_facets(KEYS, candidates)
    assert (faceted.warnings, faceted.partial) == ([], False)


async def test_a_pool_asked_for_whole_too_late_keeps_what_it_returned(
    private_bus: Bus,
    store: VectorStore,
    model: EmbeddingModel,
    search: SearchService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second read of a pool cut short ends with the search's time: a collection
    whose whole pool does not come back in time leaves the facets to what it returned
    first, and the search still answers whole, by its timeout."""
    log = write_log(store, model, 160)
    few = write_log(store, model, 3)
    chosen = [target(log), target(few)]
    text = "telescope mount wobbles at night"
    release = threading.Event()
    asked: list[int] = []
    real = store.query

    def query(name: str, **options: Any) -> list[Hit]:
        asked.append(options["limit"])
        if options["limit"] > 60:  # the pool asked for whole, after the first 60 chunks
            release.wait(30)
        else:  # the first reads take half the search's time
            release.wait(1.0)
        return real(name, **options)

    monkeypatch.setattr(store, "query", query)
    try:
        faceted = await ask(private_bus, text, chosen, facets=KEYS, facet_depth=60, timeout_ms=2000)
    finally:
        release.set()
    monkeypatch.undo()
    plain = await ask(private_bus, text, chosen)
    whole = await ask(private_bus, text, chosen, facets=KEYS, facet_depth=60)

    assert sorted(asked) == [60, 60, 200]  # both pools' shares, then the log's whole pool
    assert (faceted.warnings, faceted.partial) == ([], False)
    # By the search's own time (2 s, half of it taken by the first reads), not a
    # second timeout for the second read (which would end at 3 s).
    assert faceted.took_ms < 2500
    assert page(faceted) == page(plain)
    counted = sum(faceted.facets["file_type"].values())
    assert 3 < counted < sum(whole.facets["file_type"].values()) == 60
