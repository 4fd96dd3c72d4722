"""Federation over collections embedded with two different models: each is searched
with its own model's query embedding (two embedders answering on the bus) and the
lists are merged by rank, never by raw scores."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from embedder_service.bootstrap import build_embedder_service
from embedder_service.model import EmbeddingModel, load_sentence_transformer
from search_service.app import SearchService
from semantik_contracts.search import SearchTarget
from semantik_runtime.bus import Bus
from semantik_runtime.vectors import VectorStore

from .conftest import COMPILERS, SearchStarter, write_collection
from .test_search import ask, targets
from .tiny_models import build_sentence_transformer

pytestmark = pytest.mark.integration

TINY = "test/tiny-bert"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> EmbeddingModel:
    saved = build_sentence_transformer(
        tmp_path_factory.mktemp("raw-tiny"), tmp_path_factory.mktemp("tiny")
    )
    return load_sentence_transformer(TINY, str(saved), "cpu")


async def test_collections_of_two_models_are_searched_each_with_its_own_and_fused_by_rank(
    private_bus: Bus,
    store: VectorStore,
    corpus: Any,
    start_search: SearchStarter,
    tiny_model: EmbeddingModel,
) -> None:
    third = uuid.uuid4()
    tiny_docs = {"parsers": uuid.uuid4(), "linkers": uuid.uuid4()}
    write_collection(
        store,
        tiny_model,
        third,
        1,
        {"parsers": COMPILERS, "linkers": ["A linker joins object files into one program."]},
        tiny_docs,
    )
    search: SearchService = await start_search()
    tiny_embedder = build_embedder_service(private_bus, store, tiny_model)
    await tiny_embedder.start(asyncio.Event())
    try:
        tiny_target = SearchTarget(collection_id=third, model_name=TINY, generation=1)
        both = [*targets(corpus)[:1], tiny_target]
        federated = await ask(search.bus, "compiler source code", both, limit=20)
        alone = [await ask(search.bus, "compiler source code", [t], limit=20) for t in both]
    finally:
        await tiny_embedder.close()

    assert (federated.warnings, federated.partial) == ([], False)
    # Each collection answered with its own model: a 384-dimensional query would not
    # even fit the 32-dimensional collection.
    assert {r.collection_id for r in federated.results} == {corpus.first, third}
    assert tiny_docs["parsers"] in {r.document_id for r in federated.results}
    for single in alone:
        collection = single.results[0].collection_id
        in_federation = [r.chunk_id for r in federated.results if r.collection_id == collection]
        assert in_federation == [r.chunk_id for r in single.results]
    # Merged by rank: the best of each collection share the top two places; each result
    # shows its collection's own score (per model: the two are not on one scale).
    assert {r.collection_id for r in federated.results[:2]} == {corpus.first, third}
    own = {r.chunk_id: r.score for single in alone for r in single.results}
    assert [r.score for r in federated.results] == pytest.approx(
        [own[r.chunk_id] for r in federated.results]
    )


@pytest.mark.parametrize("slow", ["first", "second"])
async def test_a_slow_collection_is_left_out_after_its_timeout_and_the_rest_answer(
    corpus: Any, start_search: SearchStarter, slow: str
) -> None:
    search: SearchService = await start_search()
    original = search.store.query
    # Either one: Edge's reads share one thread, and one waiting behind the stuck read
    # must leave the queue in time to answer.
    stuck, answers = (
        (corpus.first, corpus.second) if slow == "first" else (corpus.second, corpus.first)
    )
    slow_name = f"{stuck}_g{1 if slow == 'first' else 2}"

    def slow_query(name: str, **kwargs: Any) -> Any:
        if name == slow_name:
            import time

            time.sleep(1.5)  # a collection stuck on a busy disk
        return original(name, **kwargs)

    search.store.query = slow_query  # type: ignore[method-assign]
    response = await ask(search.bus, "telescope observations", targets(corpus), timeout_ms=300)

    assert response.partial is True
    (warning,) = response.warnings
    assert str(stuck) in warning and "300 ms" in warning
    assert {r.collection_id for r in response.results} == {answers}
