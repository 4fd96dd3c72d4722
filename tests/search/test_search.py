"""Search over a real NATS JetStream and a real Qdrant Edge store, with the real model
answering query embeddings: modes, aggregation, fusion, partial answers, warnings."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest
from embedder_service.model import EmbeddingModel
from embedder_service.query_batcher import QueryBatcher
from pydantic import ValidationError
from search_service.app import RERANK_UNAVAILABLE, SearchService
from semantik_contracts import SearchType
from semantik_contracts.search import Search, SearchResponse, SearchTarget
from semantik_contracts.subjects import SEARCH_RPC
from semantik_runtime.bus import Bus
from semantik_runtime.vectors import VectorStore

pytestmark = pytest.mark.integration

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def targets(corpus: Any, *extra: SearchTarget) -> list[SearchTarget]:
    return [
        SearchTarget(collection_id=corpus.first, model_name=MODEL, generation=1),
        SearchTarget(collection_id=corpus.second, model_name=MODEL, generation=2),
        *extra,
    ]


async def ask(
    bus: Bus, query: str, search_targets: list[SearchTarget], **options: Any
) -> SearchResponse:
    request = Search(query=query, targets=search_targets, **options)
    return await bus.request(SEARCH_RPC, request, SearchResponse)


def first_of(response: SearchResponse, collection: uuid.UUID) -> uuid.UUID:
    return next(r.document_id for r in response.results if r.collection_id == collection)


@pytest.mark.parametrize("mode", list(SearchType))
async def test_each_mode_finds_the_expected_document_first_in_each_collection(
    private_bus: Bus, corpus: Any, search: SearchService, mode: SearchType
) -> None:
    response = await ask(private_bus, "telescope observations", targets(corpus), search_type=mode)

    assert first_of(response, corpus.first) == corpus.documents["astronomy"]
    assert first_of(response, corpus.second) == corpus.documents["planets"]
    assert (response.warnings, response.partial) == ([], False)
    assert [r.rank for r in response.results] == list(range(1, len(response.results) + 1))
    assert response.took_ms > 0
    top = response.results[0]
    assert top.path == "/data/science/astronomy.md"
    assert "telescope" in top.text
    assert top.metadata == {
        "source_id": "s1",
        "file_type": "md",
        "columns": {"topic": "space", "year": 2021},
        "chunk_index": top.metadata["chunk_index"],
    }
    assert str(top.chunk_id) == str(uuid.uuid5(top.document_id, str(top.metadata["chunk_index"])))


async def test_a_documents_chunks_count_once(
    private_bus: Bus, corpus: Any, search: SearchService
) -> None:
    # Every astronomy chunk mentions a galaxy: the document is listed once, by its best chunk.
    only_first = targets(corpus)[:1]
    response = await ask(private_bus, "galaxy", only_first, search_type="sparse")
    assert [r.document_id for r in response.results] == [corpus.documents["astronomy"]]

    response = await ask(private_bus, "galaxy stars telescope bread compiler", only_first, limit=2)
    documents = [r.document_id for r in response.results]
    assert len(documents) == 2 and len(set(documents)) == 2
    assert documents[0] == corpus.documents["astronomy"]


async def test_collections_are_merged_by_rank_and_each_result_shows_its_own_score(
    private_bus: Bus, corpus: Any, search: SearchService
) -> None:
    query = "telescope observations"
    response = await ask(private_bus, query, targets(corpus), search_type="dense", explain=True)
    first, second = response.results[:2]
    # The best of each collection share the top two places (rank fusion: 1 / (60 + 1)
    # each), yet each shows its own cosine similarity, as a search of it alone does.
    assert {first.collection_id, second.collection_id} == {corpus.first, corpus.second}
    for result in (first, second):
        assert result.explain is not None and result.explain.rank_in_collection == 1
        only = [t for t in targets(corpus) if t.collection_id == result.collection_id]
        alone = await ask(private_bus, query, only, search_type="dense")
        assert result.score == pytest.approx(alone.results[0].score)
        assert 0.2 < result.score <= 1.0 and result.score != pytest.approx(1 / 61)
        assert result.explain.dense == pytest.approx(result.score)


async def test_a_collection_whose_model_has_no_embedder_is_left_out_with_a_warning(
    private_bus: Bus, corpus: Any, search: SearchService
) -> None:
    orphan = SearchTarget(collection_id=uuid.uuid4(), model_name="acme/retired-model", generation=1)
    response = await ask(private_bus, "telescope observations", targets(corpus, orphan))

    assert response.partial is True
    (warning,) = response.warnings
    assert str(orphan.collection_id) in warning and "acme/retired-model" in warning
    assert first_of(response, corpus.first) == corpus.documents["astronomy"]
    assert first_of(response, corpus.second) == corpus.documents["planets"]

    # Keyword search needs no embedder: the same collection is searched without warning.
    sparse = await ask(private_bus, "telescope", targets(corpus, orphan), search_type="sparse")
    assert (sparse.warnings, sparse.partial) == ([], False)


async def test_an_embedder_in_the_same_process_is_asked_directly(
    private_bus: Bus, store: VectorStore, model: EmbeddingModel, corpus: Any
) -> None:
    """As in the vector host: no embedder answers on the bus, the one in this process
    encodes the query; a model without one here is still asked for over the bus."""
    batcher = QueryBatcher(model)
    asked: list[str] = []

    def local(model_name: str) -> Callable[[list[str]], Awaitable[np.ndarray]] | None:
        asked.append(model_name)
        return batcher.embed if model_name == MODEL else None

    search = SearchService(private_bus, store, local_queries=local)
    await search.start(asyncio.Event())
    try:
        orphan = SearchTarget(collection_id=uuid.uuid4(), model_name="acme/other", generation=1)
        response = await ask(private_bus, "telescope observations", targets(corpus, orphan))
    finally:
        batcher.close()

    assert sorted(asked) == sorted([MODEL, "acme/other"])  # once per model
    assert first_of(response, corpus.first) == corpus.documents["astronomy"]
    assert first_of(response, corpus.second) == corpus.documents["planets"]
    (warning,) = response.warnings  # nothing answers acme/other on the bus
    assert "no embedder for model acme/other is running" in warning


async def test_rerank_without_a_reranker_falls_back_to_fusion_with_a_warning(
    private_bus: Bus, corpus: Any, search: SearchService
) -> None:
    plain = await ask(private_bus, "bread in the oven", targets(corpus))
    reranked = await ask(private_bus, "bread in the oven", targets(corpus), rerank=True)

    assert reranked.warnings == [RERANK_UNAVAILABLE]
    assert reranked.partial is False
    assert [r.chunk_id for r in reranked.results] == [r.chunk_id for r in plain.results]
    assert reranked.results[0].document_id == corpus.documents["baking"]


async def test_a_collection_with_nothing_indexed_yet_answers_nothing_quietly(
    private_bus: Bus, corpus: Any, search: SearchService
) -> None:
    pending = SearchTarget(collection_id=uuid.uuid4(), model_name=MODEL, generation=None)
    response = await ask(private_bus, "telescope", [pending])
    assert (response.results, response.warnings, response.partial) == ([], [], False)

    mixed = await ask(private_bus, "telescope", [pending, *targets(corpus)])
    assert (mixed.warnings, mixed.partial) == ([], False)
    assert mixed.results


FILTER_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"path": "/data/kitchen/baking.txt"}, {"baking"}),
    ({"path_prefix": "/data/science"}, {"astronomy", "compilers", "planets"}),
    ({"path_prefix": "/data/science/hobby/"}, {"planets"}),
    ({"file_type": ["txt", "csv"]}, {"baking", "gardening", "interest"}),
    ({"source_id": "s2"}, set()),
    ({"columns.topic": "space"}, {"astronomy", "planets"}),
    ({"columns.year": 2021, "file_type": "md"}, {"astronomy", "compilers"}),
]


@pytest.mark.parametrize("mode", list(SearchType))
async def test_filters_keep_only_matching_documents_in_every_mode(
    private_bus: Bus, corpus: Any, search: SearchService, mode: SearchType
) -> None:
    # Words of every document, so that keyword search could match any of them.
    query = "telescope galaxy bread oven compiler code garden roses interest rates"
    for filters, expected in FILTER_CASES:
        response = await ask(
            private_bus, query, targets(corpus), search_type=mode, filters=filters, limit=20
        )
        found = {r.document_id for r in response.results}
        assert found == {corpus.documents[short] for short in expected}, filters
        assert (response.warnings, response.partial) == ([], False)


def test_a_path_prefix_must_be_a_directory() -> None:
    target = SearchTarget(collection_id=uuid.uuid4(), model_name=MODEL, generation=1)
    for bad in ("", "/", 3, ["/data"]):
        with pytest.raises(ValidationError, match="path_prefix"):
            Search(query="q", targets=[target], filters={"path_prefix": bad})
