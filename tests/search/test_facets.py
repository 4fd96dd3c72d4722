"""Facets over a real NATS JetStream and a real Qdrant Edge store, with the real model:
counts over the first ``facet_depth`` documents of the fused list, and only over the
collections searched; each value refines the search as a filter."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from embedder_service.model import EmbeddingModel
from search_service.app import SearchService
from search_service.facets import facet_value
from semantik_contracts.facets import facet_text
from semantik_contracts.search import SearchResponse, SearchTarget
from semantik_contracts.work import generation_name
from semantik_runtime.bus import Bus
from semantik_runtime.sparse import document_vector
from semantik_runtime.vectors import Point, VectorStore

from .test_search import MODEL, ask, targets

pytestmark = pytest.mark.integration

KEYS = ["file_type", "source_id", "mime", "columns.city", "columns.open"]
TYPES = ["pdf", "md", "txt", "pdf", "csv"]
CITIES = ["Oslo", "Bergen", "Oslo", "Tromsø", "Oslo", "Bergen", "Oslo"]
MIMES = {"pdf": "application/pdf", "md": "text/markdown", "txt": "text/plain", "csv": "text/csv"}
FAULTS = ["wobbles", "squeaks", "drifts", "rattles"]


def write_tickets(store: VectorStore, model: EmbeddingModel, sources: tuple[str, str]) -> uuid.UUID:
    """A new collection of 30 tickets of two chunks each (generation 1), whose payloads
    vary in every facet key; sources alternate between the two ids given."""
    collection = uuid.uuid4()
    name = generation_name(collection, 1)
    store.create_generation(name, model.dimension)
    points = []
    for number in range(30):
        document = uuid.uuid4()
        file_type = TYPES[number % len(TYPES)]
        texts = [
            f"Ticket {number}: the telescope mount {FAULTS[number % 4]} during the night.",
            f"Ticket {number}: the observatory dome {FAULTS[(number + 1) % 4]} in the wind.",
        ]
        for index, (text, vector) in enumerate(zip(texts, model.encode(texts), strict=True)):
            payload = {
                "path": f"/data/tickets/{number}.{file_type}",
                "file_type": file_type,
                "mime": MIMES[file_type],
                "source_id": sources[number % 2],
                "columns": {"city": CITIES[number % len(CITIES)], "open": number % 3 == 0},
                "text": text,
                "document_id": str(document),
                "collection_id": str(collection),
                "chunk_index": index,
            }
            point_id = str(uuid.uuid5(document, str(index)))
            points.append(Point(point_id, vector, document_vector(text), payload))
    store.upsert(name, points)
    return collection


def target(collection: uuid.UUID, generation: int = 1) -> SearchTarget:
    return SearchTarget(collection_id=collection, model_name=MODEL, generation=generation)


def hand_count(results: SearchResponse, keys: list[str]) -> dict[str, Counter[str]]:
    """Each key's values among the results' payloads (what a result's metadata holds),
    as text: a bool "true"/"false", a number its decimal."""
    return {
        key: Counter(
            facet_text(value)
            for r in results.results
            if (value := facet_value(r.metadata, key)) is not None
        )
        for key in keys
    }


def counted(response: SearchResponse) -> dict[str, Counter[str]]:
    return {key: Counter(values) for key, values in response.facets.items()}


def in_order(values: dict[str, int]) -> bool:
    """By count (descending), then value; every value a string."""
    kinds = [(-count, value) for value, count in values.items()]
    return kinds == sorted(kinds) and all(isinstance(v, str) for v in values)


async def test_facets_count_the_first_documents_of_the_fused_list_of_two_collections(
    private_bus: Bus, store: VectorStore, model: EmbeddingModel, search: SearchService
) -> None:
    north = write_tickets(store, model, ("src-north-1", "src-north-2"))
    south = write_tickets(store, model, ("src-south-1", "src-south-2"))
    both = [target(north), target(south)]
    query = "telescope mount wobbles at night"

    faceted = await ask(private_bus, query, both, limit=3, facets=KEYS, facet_depth=20)
    # The candidates: the same search's first 20 documents, their payloads counted by hand.
    candidates = await ask(private_bus, query, both, limit=20)

    assert (faceted.warnings, faceted.partial) == ([], False)
    assert list(faceted.facets) == KEYS
    assert counted(faceted) == hand_count(candidates, KEYS)
    assert sum(faceted.facets["file_type"].values()) == 20  # 60 documents, depth 20
    assert all(in_order(values) for values in faceted.facets.values())
    sources = {value.rsplit("-", 1)[0] for value in faceted.facets["source_id"]}
    assert sources == {"src-north", "src-south"}  # both collections' candidates
    assert set(faceted.facets["columns.open"]) == {"true", "false"}
    # The page is the one a search without facets returns.
    plain = await ask(private_bus, query, both, limit=3)
    assert [r.chunk_id for r in faceted.results] == [r.chunk_id for r in plain.results]
    assert plain.facets == {}


async def test_a_collection_that_runs_out_leaves_its_share_of_candidates_to_the_others(
    private_bus: Bus, store: VectorStore, model: EmbeddingModel, corpus: Any, search: SearchService
) -> None:
    tickets = write_tickets(store, model, ("src-a", "src-b"))
    # corpus.first holds 3 documents: of 10 candidates, the tickets give 7, not 5.
    both = [targets(corpus)[0], target(tickets)]
    query = "telescope at night"

    faceted = await ask(private_bus, query, both, limit=2, facets=["file_type", "source_id"])
    shallow = await ask(
        private_bus, query, both, limit=2, facets=["file_type", "source_id"], facet_depth=10
    )
    candidates = await ask(private_bus, query, both, limit=10)

    assert counted(shallow) == hand_count(candidates, ["file_type", "source_id"])
    source_counts = shallow.facets["source_id"]
    assert source_counts["s1"] == 3 and source_counts["src-a"] + source_counts["src-b"] == 7
    # The default depth (200) takes every document of both: 3 + 30.
    assert sum(faceted.facets["file_type"].values()) == 33


async def test_a_facet_value_refines_the_search_as_a_filter(
    private_bus: Bus, store: VectorStore, model: EmbeddingModel, search: SearchService
) -> None:
    tickets = [target(write_tickets(store, model, ("src-a", "src-b")))]
    query = "observatory dome in the wind"
    first = await ask(private_bus, query, tickets, facets=KEYS, facet_depth=30)
    pdf = first.facets["file_type"]["pdf"]

    refined = await ask(
        private_bus, query, tickets, facets=KEYS, facet_depth=30, filters={"file_type": "pdf"}
    )
    candidates = await ask(private_bus, query, tickets, limit=30, filters={"file_type": "pdf"})
    assert refined.facets["file_type"] == {"pdf": pdf}
    assert counted(refined) == hand_count(candidates, KEYS)
    assert {r.metadata["file_type"] for r in refined.results} == {"pdf"}

    oslo = refined.facets["columns.city"]["Oslo"]
    narrower = await ask(
        private_bus,
        query,
        tickets,
        limit=30,
        facets=KEYS,
        facet_depth=30,
        filters={"file_type": "pdf", "columns.city": "Oslo"},
    )
    assert narrower.facets["columns.city"] == {"Oslo": oslo}
    assert len(narrower.results) == oslo
    # A bool column's facet text refines as the bool it names (on Qdrant Edge too).
    open_ = refined.facets["columns.open"]["true"]
    opened = await ask(
        private_bus,
        query,
        tickets,
        limit=30,
        facets=KEYS,
        facet_depth=30,
        filters={"file_type": "pdf", "columns.open": "true"},
    )
    assert opened.facets["columns.open"] == {"true": open_}
    assert {r.metadata["columns"]["open"] for r in opened.results} == {True}


async def test_facets_count_only_the_collections_searched(
    private_bus: Bus, store: VectorStore, model: EmbeddingModel, corpus: Any, search: SearchService
) -> None:
    # Another collection in the same store, with other values for the same keys.
    write_tickets(store, model, ("src-other", "src-other-2"))
    keys = ["source_id", "columns.topic", "columns.city", "columns.year"]
    mine = await ask(private_bus, "telescope", targets(corpus)[:1], facets=keys)

    topics = Counter({"space": 1, "food": 1, "computing": 1})
    assert mine.facets["columns.topic"] == topics
    assert mine.facets["source_id"] == {"s1": 3}
    assert mine.facets["columns.city"] == {}  # a column this collection's records lack
    assert list(mine.facets["columns.year"].items()) == [("2021", 2), ("2019", 1)]
    # A number refines as it is, and as the text its facet names it by.
    for year_value in (2021, "2021"):
        year = await ask(
            private_bus,
            "telescope",
            targets(corpus)[:1],
            facets=keys,
            filters={"columns.year": year_value},
        )
        assert list(year.facets["columns.topic"].items()) == [("computing", 1), ("space", 1)]

    # Nothing matches a query of stop words only: every key asked is there, empty.
    empty = await ask(private_bus, "the of and", targets(corpus), facets=keys, search_type="sparse")
    assert (empty.results, empty.facets) == ([], {key: {} for key in keys})
