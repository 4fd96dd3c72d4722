"""Rerank with a real cross-encoder loaded from a local directory: a tiny one built here
(small BertConfig, random weights, saved with ``CrossEncoder.save``), since none ships."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from search_service.app import RERANK_UNAVAILABLE, SearchService
from search_service.rerank import Reranker, load_reranker
from semantik_runtime.bus import Bus

from .conftest import SearchStarter
from .test_search import ask, targets
from .tiny_models import build_cross_encoder

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_cross_encoder(
        tmp_path_factory.mktemp("raw-cross-encoder"), tmp_path_factory.mktemp("cross-encoder")
    )


@pytest.fixture
async def reranking(start_search: SearchStarter, cross_encoder_dir: Path) -> SearchService:
    reranker, problem = await asyncio.to_thread(load_reranker, cross_encoder_dir)
    assert problem is None
    return await start_search(reranker=reranker)


async def test_rerank_orders_the_fused_candidates_by_the_cross_encoders_scores(
    corpus: Any, reranking: SearchService, cross_encoder_dir: Path
) -> None:
    response = await ask(reranking.bus, "bread in the oven", targets(corpus), limit=5, rerank=True)

    assert (response.warnings, response.partial) == ([], False)
    assert len(response.results) == 5
    # Reloaded independently, the same model gives the same scores, best first.
    model = Reranker(cross_encoder_dir)
    expected = model.scores("bread in the oven", [r.text for r in response.results])
    assert [r.score for r in response.results] == pytest.approx(expected)
    assert expected == sorted(expected, reverse=True)
    # Every candidate was scored: nothing left out of the page beats the last result.
    everything = await ask(reranking.bus, "bread in the oven", targets(corpus), limit=100)
    shown = {r.chunk_id for r in response.results}
    rest = [r.text for r in everything.results if r.chunk_id not in shown]
    assert max(model.scores("bread in the oven", rest)) <= expected[-1] + 1e-6


def test_a_directory_without_a_cross_encoder_is_reported_not_raised(tmp_path: Path) -> None:
    assert load_reranker(None) == (None, None)
    reranker, problem = load_reranker(tmp_path)
    assert reranker is None
    assert problem is not None and str(tmp_path) in problem


async def test_rerank_with_a_broken_reranker_says_why_and_keeps_fusion(
    private_bus: Bus, start_search: SearchStarter, corpus: Any, tmp_path: Path
) -> None:
    _, problem = load_reranker(tmp_path / "missing")
    await start_search(reranker_problem=problem)
    response = await ask(private_bus, "bread in the oven", targets(corpus), rerank=True)

    (warning,) = response.warnings
    assert str(tmp_path / "missing") in warning and warning != RERANK_UNAVAILABLE
    assert response.results[0].document_id == corpus.documents["baking"]


async def test_pages_of_a_reranked_search_are_cut_from_one_reranked_list(
    corpus: Any, reranking: SearchService
) -> None:
    query, both = "bread in the oven", targets(corpus)
    whole = await ask(reranking.bus, query, both, limit=6, rerank=True, explain=True)
    pages = [
        await ask(reranking.bus, query, both, limit=2, offset=offset, rerank=True)
        for offset in (0, 2, 4)
    ]

    assert [r.chunk_id for p in pages for r in p.results] == [r.chunk_id for r in whole.results]
    assert [p.has_more for p in pages] == [True, True, False]
    # The score shown is the cross-encoder's; explain keeps it and the collection's own.
    for result in whole.results:
        assert result.explain is not None and result.explain.rerank == result.score
        assert result.explain.fused != result.score
