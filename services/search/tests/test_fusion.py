"""Ranking steps of search, without I/O: documents from chunks, fusion, results."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterator

import pytest
from search_service.facets import fused_candidates, pool_share
from search_service.fusion import (
    RRF_K,
    RankedList,
    best_chunk_per_document,
    break_ties,
    documents_of,
    fuse,
    to_result,
)
from semantik_runtime.vectors import Hit

pytestmark = pytest.mark.unit

A, B, C = (str(uuid.uuid4()) for _ in range(3))


def hit(document: str, score: float, index: int = 0, **payload: object) -> Hit:
    chunk = str(uuid.uuid5(uuid.UUID(document), str(index)))
    return Hit(chunk, score, {"document_id": document, "chunk_index": index, **payload})


def test_a_document_is_represented_by_its_best_chunk() -> None:
    hits = [hit(A, 0.9, 2), hit(B, 0.8), hit(A, 0.7, 0), hit(C, 0.6), hit(B, 0.5, 1)]
    documents = best_chunk_per_document(hits, limit=10)
    assert [(h.payload["document_id"], h.score) for h in documents] == [
        (A, 0.9),
        (B, 0.8),
        (C, 0.6),
    ]
    assert best_chunk_per_document(hits, limit=2) == documents[:2]


def test_points_without_a_document_are_not_results() -> None:
    stray = Hit(str(uuid.uuid4()), 1.0, {"text": "written by someone else"})
    assert best_chunk_per_document([stray, hit(A, 0.5)], limit=5) == [hit(A, 0.5)]


def test_one_collection_keeps_its_own_scores() -> None:
    first = uuid.uuid4()
    fused = fuse([RankedList(first, [hit(A, 0.9), hit(B, 0.4)])], limit=5)
    assert [(c, h.payload["document_id"], s) for c, h, s in fused] == [
        (first, A, 0.9),
        (first, B, 0.4),
    ]


def test_collections_merge_by_rank_whatever_their_scores() -> None:
    # The second collection's model scores everything low; rank decides, not score.
    first, second = uuid.uuid4(), uuid.uuid4()
    fused = fuse(
        [
            RankedList(first, [hit(A, 0.95), hit(B, 0.94), hit(C, 0.93)]),
            RankedList(second, [hit(C, 0.02), hit(A, 0.01)]),
        ],
        limit=4,
    )
    assert [(c, h.score) for c, h, _ in fused] == [
        (first, 0.95),
        (second, 0.02),
        (first, 0.94),
        (second, 0.01),
    ]
    assert [s for _, _, s in fused] == pytest.approx([1 / 61, 1 / 61, 1 / 62, 1 / 62])


def _sorted_rrf(lists: list[RankedList], limit: int) -> list[tuple[uuid.UUID, Hit, float]]:
    """Reciprocal rank fusion as its definition reads: every hit scored, then sorted."""
    scored = [
        (1.0 / (RRF_K + rank), order, ranked.collection_id, found)
        for order, ranked in enumerate(lists)
        for rank, found in enumerate(ranked.hits, start=1)
    ]
    scored.sort(key=lambda entry: (-entry[0], entry[1]))
    return [(collection_id, found, score) for score, _, collection_id, found in scored[:limit]]


@pytest.mark.parametrize("seed", range(20))
def test_the_merge_is_reciprocal_rank_fusion_of_lists_of_any_lengths(seed: int) -> None:
    rng = random.Random(seed)
    lists = [
        RankedList(
            uuid.uuid4(),
            [hit(str(uuid.uuid4()), rng.random()) for _ in range(rng.choice([0, 1, 3, 40]))],
        )
        for _ in range(rng.randint(2, 6))
    ]
    for limit in (0, 1, 5, 37, 200):
        assert fuse(lists, limit) == _sorted_rrf(lists, limit)


@pytest.mark.parametrize("seed", range(20))
def test_pools_are_fused_as_their_documents_would_be(seed: int) -> None:
    """A pool's chunks (several of a document, equal scores) fused lazily for the facets
    give the fusion of each pool's documents with their ties broken."""
    rng = random.Random(seed)
    documents = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(30)]
    pools = []
    for _ in range(rng.randint(1, 5)):
        scores = sorted((rng.choice([0.5, 0.4, rng.random()]) for _ in range(60)), reverse=True)
        chunks = [hit(rng.choice(documents), score, rng.randrange(9)) for score in scores]
        pools.append(RankedList(uuid.uuid4(), chunks))
    for depth in (0, 1, 7, 40, 200):
        documents = [
            RankedList(p.collection_id, break_ties(best_chunk_per_document(p.hits, len(p.hits))))
            for p in pools
        ]
        expected = fuse(documents, depth)
        if len(pools) == 1:  # one list keeps its scores; the facets take its hits
            expected = [(c, h, 0.0) for c, h, _ in expected]
        assert fused_candidates(pools, depth) == ([h for _, h, _ in expected], [])


@pytest.mark.parametrize("seed", range(30))
def test_a_pool_cut_short_is_named_where_its_end_was_read(seed: int) -> None:
    """Pools cut after a few chunks (as a query with a lower limit returns them) give
    the candidates of the whole pools, unless the fusion read one to its end: then
    that pool is named, and the whole of it gives them again."""
    rng = random.Random(seed)
    documents = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(40)]
    whole, cut = [], []
    for _ in range(rng.randint(1, 5)):
        scores = sorted((rng.choice([0.5, 0.4, rng.random()]) for _ in range(60)), reverse=True)
        chunks = [hit(rng.choice(documents), score, rng.randrange(9)) for score in scores]
        collection = uuid.uuid4()
        whole.append(RankedList(collection, chunks))
        kept = rng.randint(0, 60)
        cut.append(RankedList(collection, chunks[:kept], kept < 60))
    for depth in (1, 7, 20, 40, 200):
        expected, _ = fused_candidates(whole, depth)
        found, short = fused_candidates(cut, depth)
        assert all(cut[index].cut for index in short)
        if not short:
            assert found == expected
        mended = [whole[i] if i in short else pool for i, pool in enumerate(cut)]
        again, still = fused_candidates(mended, depth)
        assert (again, still) == (expected, [])


def test_a_pool_share_is_twice_each_collections_even_share() -> None:
    assert pool_share(200, 5) == 80
    assert pool_share(200, 3) == 134
    assert pool_share(200, 1) == 400  # more than any pool: all of it
    assert pool_share(10, 0) == 20


def test_a_pool_is_read_only_as_far_as_its_documents_are_asked_for() -> None:
    read: list[Hit] = []

    def chunks() -> Iterator[Hit]:
        for n in range(100):
            found = hit(str(uuid.UUID(int=n)), 1.0 - n / 100)
            read.append(found)
            yield found

    first = list(itertools.islice(documents_of(chunks()), 3))
    assert first == read[:3] and len(read) == 4  # one past: where the third's run ends


def test_equal_scores_are_ordered_by_document_and_others_keep_their_order() -> None:
    first, second = sorted([A, B])
    hits = [hit(C, 0.9), hit(second, 0.5), hit(first, 0.5), hit(C, 0.1, 1)]
    assert break_ties(hits) == [hits[0], hits[2], hits[1], hits[3]]
    distinct = [hit(B, 0.9), hit(A, 0.5)]
    assert break_ties(distinct) is distinct  # nothing to order: the list as it is


def test_a_result_lifts_the_known_fields_and_keeps_the_rest_as_metadata() -> None:
    collection = uuid.uuid4()
    found = hit(A, 0.5, 3, text="chunk text", path="/a.csv", collection_id=str(collection), row=7)
    result = to_result(collection, found, 0.5, rank=1)
    assert (result.document_id, str(result.chunk_id)) == (uuid.UUID(A), found.id)
    assert (result.path, result.text, result.score, result.rank) == ("/a.csv", "chunk text", 0.5, 1)
    assert result.metadata == {"chunk_index": 3, "row": 7}
