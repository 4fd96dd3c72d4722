"""What each search result carries (issue 26), over the real bus, store and model:
highlights and a snippet, pages of documents across federated collections, the scores a
person reads and explain's raw values."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError
from search_service.app import SearchService
from semantik_contracts import SearchType
from semantik_contracts.search import MAX_OFFSET, Search, SearchTarget
from semantik_runtime.bus import Bus
from semantik_runtime.models import hybrid_weight
from semantik_runtime.sparse import tokenize

from .test_search import MODEL, ask, targets

pytestmark = pytest.mark.integration

QUERY = "telescope galaxy bread garden compiler interest"


async def test_each_result_marks_the_querys_terms_in_its_text_and_snippet(
    private_bus: Bus, corpus: Any, search: SearchService
) -> None:
    query = "observing galaxies through telescopes"
    response = await ask(private_bus, query, targets(corpus))
    top = response.results[0]
    assert top.document_id == corpus.documents["astronomy"]
    # Marked: "telescope", "observed", "galaxy", "through", each a stem of the query's.
    words = [top.text[start:end] for start, end in top.highlights]
    assert len(words) == 4 and {tokenize(word)[0] for word in words} == set(tokenize(query))
    assert (top.snippet, top.snippet_start) == (top.text, 0)  # a short chunk
    assert top.snippet_highlights == top.highlights
    # A result that shares no word with the query has no highlight and still a snippet.
    bare = next(r for r in response.results if r.document_id == corpus.documents["interest"])
    assert bare.highlights == [] and bare.snippet and bare.snippet_highlights == []


@pytest.mark.parametrize("mode", list(SearchType))
async def test_pages_of_a_federated_search_are_disjoint_and_make_up_the_whole_list(
    private_bus: Bus, corpus: Any, search: SearchService, mode: SearchType
) -> None:
    both = targets(corpus)
    whole = await ask(private_bus, QUERY, both, limit=6, search_type=mode)
    pages = [
        await ask(private_bus, QUERY, both, limit=2, offset=offset, search_type=mode)
        for offset in (0, 2, 4)
    ]
    paged = [r for page in pages for r in page.results]

    assert len(whole.results) == 6  # every document of both collections
    assert {r.collection_id for r in whole.results} == {corpus.first, corpus.second}
    assert [r.document_id for r in paged] == [r.document_id for r in whole.results]
    assert [r.rank for r in paged] == [1, 2, 3, 4, 5, 6]
    assert [(p.offset, p.has_more) for p in pages] == [(0, True), (2, True), (4, False)]
    past = await ask(private_bus, QUERY, both, limit=2, offset=6, search_type=mode)
    assert (past.results, past.has_more, past.offset) == ([], False, 6)


async def test_explain_gives_each_results_raw_scores(
    private_bus: Bus, corpus: Any, search: SearchService
) -> None:
    plain = await ask(private_bus, QUERY, targets(corpus), limit=6)
    explained = await ask(private_bus, QUERY, targets(corpus), limit=6, explain=True)

    assert all(r.explain is None for r in plain.results)
    assert [r.chunk_id for r in explained.results] == [r.chunk_id for r in plain.results]
    weight = hybrid_weight(MODEL)
    for collection in (corpus.first, corpus.second):
        mine = [r for r in explained.results if r.collection_id == collection]
        reasons = [r.explain for r in mine if r.explain is not None]
        assert len(reasons) == len(mine) == 3
        # The collection's own order: by its fused score, rank 1, 2, 3.
        assert [e.rank_in_collection for e in reasons] == [1, 2, 3]
        assert [e.fused for e in reasons] == sorted((e.fused for e in reasons), reverse=True)
        for result, reason in zip(mine, reasons, strict=True):
            assert reason.dense is not None and reason.sparse is not None
            assert -1.0 <= reason.dense <= 1.0 and reason.sparse >= 0.0
            # Hybrid: the engine's cosine + the model's weight x BM25, shown as the score.
            assert reason.fused == pytest.approx(reason.dense + weight * reason.sparse, rel=1e-4)
            assert result.score == reason.fused and reason.rerank is None


@pytest.mark.parametrize("mode", [SearchType.DENSE, SearchType.SPARSE])
async def test_explain_in_one_mode_scores_by_that_mode(
    private_bus: Bus, corpus: Any, search: SearchService, mode: SearchType
) -> None:
    response = await ask(private_bus, QUERY, targets(corpus), search_type=mode, explain=True)
    assert response.results
    for result in response.results:
        reason = result.explain
        assert reason is not None
        if mode == SearchType.DENSE:
            assert reason.fused == pytest.approx(reason.dense, rel=1e-4)
            assert reason.sparse is not None  # BM25 is computed even so
        else:
            assert reason.dense is None  # a keyword search embeds no query
            assert reason.fused == pytest.approx(reason.sparse, rel=1e-4)


@pytest.mark.parametrize("offset", [-1, MAX_OFFSET + 1])
def test_an_offset_out_of_bounds_is_refused(offset: int) -> None:
    target = SearchTarget(collection_id=uuid.uuid4(), model_name=MODEL, generation=1)
    with pytest.raises(ValidationError, match="offset"):
        Search(query="q", targets=[target], offset=offset)
