"""One contract for every VectorStore adapter: Qdrant Edge, and qdrant-client's local
mode standing in for a Qdrant server. A subclass supplies the ``store`` fixture."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient
from semantik_runtime.sparse import document_vector, query_vector
from semantik_runtime.vectors import GenerationNotFoundError, Point, VectorStore, open_vector_store
from semantik_runtime.vectors.edge import EdgeVectorStore
from semantik_runtime.vectors.port import SPARSE_WEIGHT
from semantik_runtime.vectors.server import QdrantServerVectorStore

pytestmark = pytest.mark.integration

DIM = 8
GEN = "c1_g1"
CHUNKS = {
    # (document, chunk index): (text, axis of its one-hot dense vector)
    ("doc-a", 0): ("protein folding in yeast cells", 0),
    ("doc-a", 1): ("yeast metabolism and fermentation of sugar", 1),
    ("doc-b", 0): ("neural networks learn representations of images", 2),
    ("doc-c", 0): ("running shoes for marathon runners", 3),
}


def point_id(document_id: str, chunk: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{document_id}/{chunk}"))


def axis(index: int, noise: float = 0.0) -> list[float]:
    vector = [noise] * DIM
    vector[index] = 1.0
    return vector


def make_point(document_id: str, chunk: int, **extra: object) -> Point:
    text, dim = CHUNKS[(document_id, chunk)]
    payload = {"document_id": document_id, "chunk_index": chunk, "text": text, **extra}
    return Point(point_id(document_id, chunk), axis(dim), document_vector(text), payload)


ALL = [make_point(doc, chunk) for doc, chunk in CHUNKS]


class VectorStoreContract:
    """What every adapter must do; subclasses override the ``store`` fixture."""

    @pytest.fixture
    def filled(self, store: VectorStore) -> VectorStore:
        store.create_generation(GEN, DIM)
        store.upsert(GEN, ALL)
        return store

    def test_create_generation_is_idempotent(self, store: VectorStore) -> None:
        assert not store.has_generation(GEN)
        store.create_generation(GEN, DIM)
        store.create_generation(GEN, DIM)
        assert store.has_generation(GEN)
        assert store.generations() == [GEN]
        assert store.count(GEN) == 0

    def test_generation_names_are_checked(self, store: VectorStore) -> None:
        with pytest.raises(ValueError):
            store.create_generation("../escape", DIM)

    def test_upsert_then_count(self, filled: VectorStore) -> None:
        assert filled.count(GEN) == len(ALL)

    def test_upsert_accepts_numpy_vectors(self, store: VectorStore) -> None:
        store.create_generation(GEN, DIM)
        base = make_point("doc-b", 0)
        dense = np.asarray(base.dense, dtype=np.float32)
        store.upsert(GEN, [Point(base.id, dense, base.sparse, base.payload)])
        hits = store.query(GEN, mode="dense", dense=dense, sparse=None, limit=1)
        assert [h.id for h in hits] == [base.id]

    def test_upserting_the_same_ids_again_overwrites(self, filled: VectorStore) -> None:
        filled.upsert(GEN, [make_point(doc, chunk, version=2) for doc, chunk in CHUNKS])
        assert filled.count(GEN) == len(ALL)
        hits = filled.query(GEN, mode="dense", dense=axis(2), sparse=None, limit=1)
        assert hits[0].payload["version"] == 2

    def test_delete_points(self, filled: VectorStore) -> None:
        filled.delete_points(GEN, [point_id("doc-b", 0), str(uuid.uuid4())])
        assert filled.count(GEN) == len(ALL) - 1
        hits = filled.query(GEN, mode="dense", dense=axis(2), sparse=None, limit=10)
        assert point_id("doc-b", 0) not in {h.id for h in hits}

    def test_delete_document_removes_all_its_chunks(self, filled: VectorStore) -> None:
        filled.delete_document(GEN, "doc-a")
        filled.delete_document(GEN, "doc-unknown")
        assert filled.count(GEN) == len(ALL) - 2
        hits = filled.query(GEN, mode="dense", dense=axis(0), sparse=None, limit=10)
        assert all(h.payload["document_id"] != "doc-a" for h in hits)

    def test_drop_generation(self, filled: VectorStore) -> None:
        filled.drop_generation(GEN)
        filled.drop_generation(GEN)
        assert not filled.has_generation(GEN)
        assert filled.generations() == []
        assert filled.count(GEN) == 0

    def test_a_dropped_generation_can_be_created_again_empty(self, filled: VectorStore) -> None:
        filled.drop_generation(GEN)
        filled.create_generation(GEN, DIM)
        assert filled.count(GEN) == 0

    def test_generations_are_independent(self, filled: VectorStore) -> None:
        filled.create_generation("c1_g2", DIM)
        filled.upsert("c1_g2", ALL[:1])
        assert filled.generations() == [GEN, "c1_g2"]
        assert (filled.count(GEN), filled.count("c1_g2")) == (len(ALL), 1)

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

    def test_writes_to_a_missing_generation_raise(self, store: VectorStore) -> None:
        with pytest.raises(GenerationNotFoundError):
            store.upsert("c9_g1", ALL)
        with pytest.raises(GenerationNotFoundError):
            store.delete_document("c9_g1", "doc-a")
        with pytest.raises(GenerationNotFoundError):
            store.set_alias("semantik_c9", "c9_g1")

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

    def test_retrieve_returns_whole_payloads_in_the_order_asked(self, filled: VectorStore) -> None:
        wanted = [point_id("doc-c", 0), point_id("nowhere", 0), point_id("doc-a", 1)]
        found = filled.retrieve(GEN, wanted)
        assert [hit.id for hit in found] == [wanted[0], wanted[2]]
        assert [hit.payload for hit in found] == [make_point("doc-c", 0).payload, ALL[1].payload]
        assert {hit.score for hit in found} == {0.0}
        assert filled.retrieve(GEN, []) == [] and filled.retrieve("c9_g1", wanted) == []

    def test_set_alias_and_optimize_keep_the_generation_searchable(
        self, filled: VectorStore
    ) -> None:
        filled.set_alias("semantik_c1", GEN)
        filled.create_generation("c1_g2", DIM)
        filled.set_alias("semantik_c1", "c1_g2")
        filled.optimize(GEN)
        hits = filled.query(GEN, mode="dense", dense=axis(0), sparse=None, limit=1)
        assert hits[0].id == point_id("doc-a", 0)


class TestEdgeVectorStore(VectorStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[VectorStore]:
        store = EdgeVectorStore(tmp_path / "qdrant")
        yield store
        store.close()

    def test_a_reopened_store_keeps_its_points(self, tmp_path: Path) -> None:
        first = EdgeVectorStore(tmp_path / "qdrant")
        first.create_generation(GEN, DIM)
        first.upsert(GEN, ALL)
        first.close()
        second = EdgeVectorStore(tmp_path / "qdrant")
        try:
            assert second.generations() == [GEN]
            assert second.count(GEN) == len(ALL)
            hits = second.query(
                GEN, mode="sparse", dense=None, sparse=query_vector("marathon"), limit=1
            )
            assert hits[0].id == point_id("doc-c", 0)
        finally:
            second.close()

    def test_shards_search_with_the_threads_set_older_ones_too(self, tmp_path: Path) -> None:
        first = EdgeVectorStore(tmp_path / "qdrant")
        first.create_generation(GEN, DIM)
        first.upsert(GEN, ALL)
        first.close()
        config_file = tmp_path / "qdrant" / GEN / "edge_config.json"
        assert json.loads(config_file.read_text())["max_search_threads"] == 1
        # A shard made before its pool was set: it gets the setting when opened.
        older = json.loads(config_file.read_text())
        del older["max_search_threads"]
        config_file.write_text(json.dumps(older))
        second = open_vector_store(None, tmp_path, edge_search_threads=3)
        try:
            reopened = json.loads(config_file.read_text())
            assert reopened["max_search_threads"] == 3
            assert reopened["vectors"] == older["vectors"]  # its dense size is its own
            dense = np.eye(DIM, dtype=np.float32)[3]
            hits = second.query(
                GEN, mode="hybrid", dense=dense, sparse=query_vector("marathon"), limit=1
            )
            assert hits[0].id == point_id("doc-c", 0)
        finally:
            second.close()

    def test_a_second_process_cannot_open_the_shards(
        self, filled: VectorStore, tmp_path: Path
    ) -> None:
        # Within one process this stands in for another process: the WAL lock refuses it.
        with pytest.raises(Exception, match="WAL"):
            EdgeVectorStore(tmp_path / "qdrant")

    def test_dropping_removes_the_shard_directory(
        self, filled: VectorStore, tmp_path: Path
    ) -> None:
        filled.drop_generation(GEN)
        assert list((tmp_path / "qdrant").iterdir()) == []

    def test_concurrent_writes_reads_and_drop(self, filled: VectorStore) -> None:
        errors: list[BaseException] = []
        rng = np.random.default_rng(0)

        def write() -> None:
            try:
                for batch in range(20):
                    filled.upsert(
                        GEN,
                        [
                            Point(
                                str(uuid.uuid4()),
                                rng.random(DIM, dtype=np.float32),
                                document_vector(f"extra text number {batch}"),
                                {"document_id": f"extra-{batch}"},
                            )
                            for _ in range(50)
                        ],
                    )
            except BaseException as error:
                errors.append(error)

        def read() -> None:
            try:
                for _ in range(200):
                    filled.query(
                        GEN, mode="hybrid", dense=axis(0), sparse=query_vector("text"), limit=5
                    )
            except BaseException as error:
                errors.append(error)

        threads = [
            threading.Thread(target=write),
            *(threading.Thread(target=read) for _ in range(2)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert filled.count(GEN) == len(ALL) + 20 * 50

        # Dropping while readers run: they see an empty result, never an engine error.
        readers = [threading.Thread(target=read) for _ in range(2)]
        for thread in readers:
            thread.start()
        filled.drop_generation(GEN)
        for thread in readers:
            thread.join()
        assert errors == []

    def test_open_vector_store_without_url_is_edge(self, tmp_path: Path) -> None:
        store = open_vector_store(None, tmp_path)
        try:
            assert isinstance(store, EdgeVectorStore)
            store.create_generation(GEN, DIM)
            assert (tmp_path / "qdrant" / GEN).is_dir()
        finally:
            store.close()


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning")
class TestQdrantLocalVectorStore(VectorStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[VectorStore]:
        store = QdrantServerVectorStore(QdrantClient(":memory:"))
        yield store
        store.close()

    def test_set_alias_moves_the_alias(self) -> None:
        client = QdrantClient(":memory:")
        store = QdrantServerVectorStore(client)
        store.create_generation(GEN, DIM)
        store.create_generation("c1_g2", DIM)
        store.set_alias("semantik_c1", GEN)
        store.set_alias("semantik_c1", "c1_g2")
        aliases = {a.alias_name: a.collection_name for a in client.get_aliases().aliases}
        assert aliases == {"semantik_c1": "c1_g2"}
        store.close()

    def test_open_vector_store_with_url_is_the_server_adapter(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # A real client would check the server's version from a background thread.
        made: dict[str, object] = {}

        def client(**kwargs: object) -> QdrantClient:
            made.update(kwargs)
            return QdrantClient(":memory:")

        monkeypatch.setattr("qdrant_client.QdrantClient", client)
        store = open_vector_store("http://qdrant:6333", tmp_path, api_key="secret")
        assert isinstance(store, QdrantServerVectorStore)
        assert made == {"url": "http://qdrant:6333", "api_key": "secret"}
        store.close()
        assert not (tmp_path / "qdrant").exists()
