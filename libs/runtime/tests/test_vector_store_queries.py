"""One contract for every VectorStore adapter, queries: dense, sparse and hybrid
ranking, filters, payloads, sampling and retrieval. The adapters' fixtures and the points
come from vector_store_case.py."""

from __future__ import annotations

import random

import pytest
from semantik_runtime.sparse import document_vector, query_vector
from semantik_runtime.vectors import Point, VectorStore
from semantik_runtime.vectors.port import SPARSE_WEIGHT

from libs.runtime.tests.vector_store_case import (
    ALL,
    CHUNKS,
    DIM,
    GEN,
    EdgeStore,
    QdrantLocalStore,
    VectorStoreCase,
    axis,
    make_point,
    point_id,
)

pytestmark = pytest.mark.integration


class VectorStoreQueryContract(VectorStoreCase):
    """What every adapter's queries return."""

    def test_dense_query_ranks_the_nearest_point_first(self, filled: VectorStore) -> None:
        hits = filled.query(GEN, mode="dense", dense=axis(3, noise=0.1), sparse=None, limit=3)
        assert hits[0].id == point_id("doc-c", 0)
        assert hits[0].payload["text"] == CHUNKS[("doc-c", 0)][0]
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert len(hits) == 3

    def test_sparse_query_ranks_the_matching_point_first(self, filled: VectorStore) -> None:
        hits = filled.query(
            GEN, mode="sparse", dense=None, sparse=query_vector("marathon run"), limit=10
        )
        assert [h.id for h in hits] == [point_id("doc-c", 0)]

    def test_sparse_query_returns_only_points_sharing_a_term(self, filled: VectorStore) -> None:
        hits = filled.query(GEN, mode="sparse", dense=None, sparse=query_vector("yeast"), limit=10)
        assert {h.id for h in hits} == {point_id("doc-a", 0), point_id("doc-a", 1)}
        assert all(h.score > 0 for h in hits)

    def test_sparse_query_of_stop_words_finds_nothing(self, filled: VectorStore) -> None:
        hits = filled.query(GEN, mode="sparse", dense=None, sparse=query_vector("the of"), limit=5)
        assert hits == []

    def test_sparse_scores_use_idf(self, filled: VectorStore) -> None:
        # "yeast" is in two chunks, "fermentation" in one: the rarer term weighs more.
        common = filled.query(GEN, mode="sparse", dense=None, sparse=query_vector("yeast"), limit=5)
        rare = filled.query(
            GEN, mode="sparse", dense=None, sparse=query_vector("fermentation"), limit=5
        )
        yeast_score = next(h.score for h in common if h.id == point_id("doc-a", 1))
        assert rare[0].id == point_id("doc-a", 1)
        assert rare[0].score > yeast_score

    def test_hybrid_adds_the_weighted_bm25_score_to_the_cosine_of_every_candidate(
        self, filled: VectorStore
    ) -> None:
        # Dense prefers doc-b; only doc-c shares a word with the query. Each candidate of
        # either prefetch gets its exact cosine + SPARSE_WEIGHT x BM25 (0 without a shared
        # word), even one that only the other prefetch found.
        dense = [0.0] * DIM
        dense[2], dense[3] = 1.0, 0.2
        sparse = query_vector("marathon runners")
        hybrid = filled.query(GEN, mode="hybrid", dense=dense, sparse=sparse, limit=10)
        cosine = {
            h.id: h.score
            for h in filled.query(GEN, mode="dense", dense=dense, sparse=None, limit=10)
        }
        bm25 = {
            h.id: h.score
            for h in filled.query(GEN, mode="sparse", dense=None, sparse=sparse, limit=10)
        }
        assert set(bm25) == {point_id("doc-c", 0)}
        expected = {i: cosine[i] + SPARSE_WEIGHT * bm25.get(i, 0.0) for i in cosine}
        assert {h.id: h.score for h in hybrid} == pytest.approx(expected, rel=1e-4)
        assert [h.score for h in hybrid] == sorted((h.score for h in hybrid), reverse=True)
        assert hybrid[0].id == point_id("doc-b", 0)  # cosine 0.98 against 0.2 + weighted BM25

        narrow = filled.query(
            GEN, mode="hybrid", dense=dense, sparse=sparse, limit=10, prefetch_limit=1
        )
        # doc-c is found by the sparse prefetch only, yet scored by its cosine too.
        assert {h.id: h.score for h in narrow} == pytest.approx(
            {i: expected[i] for i in (point_id("doc-b", 0), point_id("doc-c", 0))}, rel=1e-4
        )

    def test_hybrid_weighs_bm25_by_the_sparse_weight_asked_for(self, filled: VectorStore) -> None:
        # The model's weight (models.hybrid_weight) replaces SPARSE_WEIGHT in the formula:
        # a large one lets the only chunk sharing a word overtake the dense favourite.
        dense = [0.0] * DIM
        dense[2], dense[3] = 1.0, 0.2
        sparse = query_vector("marathon runners")
        bm25 = filled.query(GEN, mode="sparse", dense=None, sparse=sparse, limit=1)[0]
        cosine = {
            h.id: h.score
            for h in filled.query(GEN, mode="dense", dense=dense, sparse=None, limit=10)
        }
        heavy = filled.query(
            GEN, mode="hybrid", dense=dense, sparse=sparse, limit=10, sparse_weight=2.0
        )
        assert heavy[0].id == bm25.id == point_id("doc-c", 0)
        assert heavy[0].score == pytest.approx(cosine[bm25.id] + 2.0 * bm25.score, rel=1e-4)

    def test_hybrid_with_an_empty_sparse_query_ranks_by_dense(self, filled: VectorStore) -> None:
        hits = filled.query(GEN, mode="hybrid", dense=axis(1), sparse=query_vector("the"), limit=2)
        assert hits[0].id == point_id("doc-a", 1)

    def test_query_needs_the_vectors_of_its_mode(self, filled: VectorStore) -> None:
        with pytest.raises(ValueError):
            filled.query(GEN, mode="hybrid", dense=axis(0), sparse=None, limit=5)
        with pytest.raises(ValueError):
            filled.query(GEN, mode="dense", dense=None, sparse=query_vector("x"), limit=5)

    @pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
    def test_filters_restrict_every_mode(self, filled: VectorStore, mode: str) -> None:
        hits = filled.query(
            GEN,
            mode=mode,  # type: ignore[arg-type]
            dense=axis(3),
            sparse=query_vector("yeast marathon"),
            limit=10,
            filters={"document_id": "doc-a"},
        )
        assert {h.id for h in hits} == {point_id("doc-a", 0), point_id("doc-a", 1)}

    def test_filters_match_any_of_a_list_and_all_keys(self, filled: VectorStore) -> None:
        def ids(filters: dict[str, object]) -> set[str]:
            hits = filled.query(
                GEN, mode="dense", dense=axis(0), sparse=None, limit=10, filters=filters
            )
            return {h.id for h in hits}

        assert ids({"document_id": ["doc-b", "doc-c"]}) == {
            point_id("doc-b", 0),
            point_id("doc-c", 0),
        }
        assert ids({"document_id": "doc-a", "chunk_index": 1}) == {point_id("doc-a", 1)}
        assert ids({"document_id": "doc-none"}) == set()

    def test_column_filters_match_bools_numbers_texts_and_dotted_names(
        self, store: VectorStore
    ) -> None:
        # Qdrant Edge 0.9 reads MatchValue(True) as the integer 1: a bool filter must
        # still match a stored true (and only that), on both adapters.
        store.create_generation(GEN, DIM)
        columns = {
            "doc-a": {"open": True, "year": 2021, "code": "1", "a.b": "x", "my col": "p"},
            "doc-b": {"open": False, "year": 1, "code": "true", "a.b": "y", "my col": "q"},
            "doc-c": {"open": True, "year": 2019, "code": "z", "a": {"b": "x"}},
        }
        store.upsert(GEN, [make_point(d, c, columns=columns[d]) for d, c in CHUNKS])

        def documents(filters: dict[str, object]) -> set[str]:
            hits = store.query(
                GEN, mode="dense", dense=axis(0), sparse=None, limit=10, filters=filters
            )
            return {h.payload["document_id"] for h in hits}

        assert documents({"columns.open": True}) == {"doc-a", "doc-c"}
        assert documents({"columns.open": False}) == {"doc-b"}
        assert documents({"columns.open": [True, False]}) == {"doc-a", "doc-b", "doc-c"}
        assert documents({"columns.open": 1}) == set()  # a bool is no number
        # A facet's text matches the number or the bool it spells, and itself.
        assert documents({"columns.open": "true"}) == {"doc-a", "doc-c"}
        assert documents({"columns.year": "2021"}) == documents({"columns.year": 2021})
        assert documents({"columns.year": ["2019", 1]}) == {"doc-b", "doc-c"}
        assert documents({"columns.code": "1"}) == {"doc-a"}  # text "1", no column 1
        assert documents({"columns.code": "true"}) == {"doc-b"}
        assert documents({"columns.code": []}) == set()
        # A dot or a space is part of a column's name, never a nested path.
        assert documents({"columns.a.b": "x"}) == {"doc-a"}
        assert documents({"columns.my col": "q"}) == {"doc-b"}
        # The bools' 0/1 copy (Edge) never shows in a payload.
        hits = store.query(GEN, mode="dense", dense=axis(0), sparse=None, limit=10)
        assert {h.payload["document_id"]: h.payload["columns"] for h in hits} == columns

    @pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
    def test_a_path_prefix_keeps_the_points_under_that_directory(
        self, store: VectorStore, mode: str
    ) -> None:
        store.create_generation(GEN, DIM)
        paths = {"doc-a": "/data/bio/yeast.md", "doc-b": "/data/biology.md", "doc-c": "/data/bio"}
        store.upsert(GEN, [make_point(d, c, path=paths[d]) for d, c in CHUNKS])

        def documents(prefix: str) -> set[str]:
            hits = store.query(
                GEN,
                mode=mode,  # type: ignore[arg-type]
                dense=axis(0),
                sparse=query_vector("yeast images marathon"),
                limit=10,
                filters={"path_prefix": prefix},
            )
            return {h.payload["document_id"] for h in hits}

        # A directory, not a string prefix: /data/bio holds neither /data/biology.md
        # nor a file named /data/bio.
        assert documents("/data/bio") == documents("/data/bio/") == {"doc-a"}
        assert documents("/data") == {"doc-a", "doc-b", "doc-c"}
        assert documents("/elsewhere") == set()

    @pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
    def test_query_on_a_missing_generation_returns_nothing(
        self, store: VectorStore, mode: str
    ) -> None:
        hits = store.query(
            "c9_g1",
            mode=mode,  # type: ignore[arg-type]
            dense=axis(0),
            sparse=query_vector("yeast"),
            limit=5,
        )
        assert hits == []
        assert store.count("c9_g1") == 0

    def test_sample_returns_stored_points_with_payloads(self, filled: VectorStore) -> None:
        sampled = filled.sample(GEN, 2)
        assert len(sampled) == 2
        stored = {p.id: p.payload["text"] for p in ALL}
        assert all(stored[hit.id] == hit.payload["text"] for hit in sampled)
        assert [h.id for h in filled.sample(GEN, 2)] == [h.id for h in sampled]
        assert len(filled.sample(GEN, 100)) == len(ALL)
        assert filled.sample("c9_g1", 5) == []

    @pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
    def test_a_query_returns_only_the_payload_keys_asked_for(
        self, filled: VectorStore, mode: str
    ) -> None:
        def ask(payload: list[str] | None) -> list[tuple[str, dict[str, object]]]:
            found = filled.query(
                GEN,
                mode=mode,  # type: ignore[arg-type]
                dense=axis(0),
                sparse=query_vector("yeast"),
                limit=5,
                payload=payload,
            )
            return [(hit.id, hit.payload) for hit in found]

        whole = ask(None)
        assert whole and all("text" in payload for _, payload in whole)
        trimmed = ask(["document_id"])
        # The same hits (points of equal score may come in another order).
        assert len(trimmed) == len(whole)
        assert dict(trimmed) == {i: {"document_id": p["document_id"]} for i, p in whole}

    @pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
    def test_a_query_s_first_points_are_the_same_whatever_its_limit(
        self, store: VectorStore, mode: str
    ) -> None:
        """A lower limit cuts the same ranking sooner (search asks a collection's pool
        for the facets' share first and for the rest only where the fusion needs it:
        search_service.facets.pool_share)."""
        rng = random.Random(7)
        words = ["yeast", "protein", "cell", "sugar", "image", "network", "shoe", "run"]
        store.create_generation(GEN, DIM)
        points = []
        for number in range(150):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
            dense = [rng.gauss(0, 1) for _ in range(DIM)]
            payload = {"document_id": f"doc-{number}", "chunk_index": 0, "text": text}
            points.append(
                Point(point_id(f"doc-{number}", 0), dense, document_vector(text), payload)
            )
        store.upsert(GEN, points)
        dense, sparse = [rng.gauss(0, 1) for _ in range(DIM)], query_vector("yeast cell sugar")

        def ranked(limit: int) -> list[tuple[str, float]]:
            hits = store.query(
                GEN, mode=mode, dense=dense, sparse=sparse, limit=limit, prefetch_limit=60,
                payload=["document_id"],
            )  # fmt: skip
            return [(hit.id, round(hit.score, 5)) for hit in hits]

        whole = ranked(120)
        assert len(whole) >= 60  # the pool: the union of two prefetches of 60 in hybrid
        # Points of equal score may come in another order at a cut: compare the scores,
        # and the ids of the points above the cut's score.
        for limit in (5, 20, 44, 59):
            cut = ranked(limit)
            assert [score for _, score in cut] == [score for _, score in whole[:limit]]
            edge = cut[-1][1]
            assert {i for i, sc in cut if sc > edge} == {i for i, sc in whole[:limit] if sc > edge}

    def test_retrieve_returns_whole_payloads_in_the_order_asked(self, filled: VectorStore) -> None:
        wanted = [point_id("doc-c", 0), point_id("nowhere", 0), point_id("doc-a", 1)]
        found = filled.retrieve(GEN, wanted)
        assert [hit.id for hit in found] == [wanted[0], wanted[2]]
        assert [hit.payload for hit in found] == [make_point("doc-c", 0).payload, ALL[1].payload]
        assert {hit.score for hit in found} == {0.0}
        assert filled.retrieve(GEN, []) == [] and filled.retrieve("c9_g1", wanted) == []


class TestEdgeVectorStoreQueries(EdgeStore, VectorStoreQueryContract):
    """The query contract on Qdrant Edge."""


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning")
class TestQdrantLocalVectorStoreQueries(QdrantLocalStore, VectorStoreQueryContract):
    """The query contract on qdrant-client's local mode."""
