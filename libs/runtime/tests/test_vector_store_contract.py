"""One contract for every VectorStore adapter, generations and writes: creating,
upserting, deleting and dropping; and what each adapter does beyond the contract. The
adapters' fixtures and the points come from vector_store_case.py."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient
from semantik_runtime.settings import ServiceSettings
from semantik_runtime.sparse import document_vector, query_vector
from semantik_runtime.vectors import GenerationNotFoundError, Point, VectorStore, open_vector_store
from semantik_runtime.vectors.edge import EdgeVectorStore
from semantik_runtime.vectors.server import QdrantLayout, QdrantServerVectorStore

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


class VectorStoreWritesContract(VectorStoreCase):
    """Generations and the points written to them, for every adapter."""

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

    def test_writes_to_a_missing_generation_raise(self, store: VectorStore) -> None:
        with pytest.raises(GenerationNotFoundError):
            store.upsert("c9_g1", ALL)
        with pytest.raises(GenerationNotFoundError):
            store.delete_document("c9_g1", "doc-a")
        with pytest.raises(GenerationNotFoundError):
            store.set_alias("semantik_c9", "c9_g1")

    def test_set_alias_and_optimize_keep_the_generation_searchable(
        self, filled: VectorStore
    ) -> None:
        filled.set_alias("semantik_c1", GEN)
        filled.create_generation("c1_g2", DIM)
        filled.set_alias("semantik_c1", "c1_g2")
        filled.optimize(GEN)
        hits = filled.query(GEN, mode="dense", dense=axis(0), sparse=None, limit=1)
        assert hits[0].id == point_id("doc-a", 0)


class TestEdgeVectorStore(EdgeStore, VectorStoreWritesContract):
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
class TestQdrantLocalVectorStore(QdrantLocalStore, VectorStoreWritesContract):
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

    def test_a_new_generation_is_laid_out_as_the_settings_say(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """SEMANTIK_QDRANT_SHARDS, _REPLICAS and _QUANTIZATION reach the server's
        create_collection (local mode takes them and keeps only the on-disk flags; the
        server's own answer cannot be had here); unset, the server's defaults stay."""
        monkeypatch.setenv("SEMANTIK_QDRANT_SHARDS", "12")
        monkeypatch.setenv("SEMANTIK_QDRANT_REPLICAS", "2")
        monkeypatch.setenv("SEMANTIK_QDRANT_QUANTIZATION", "int8")
        layout = ServiceSettings().qdrant_layout
        assert layout == QdrantLayout(12, 2, "int8")
        asked: list[dict[str, object]] = []

        class Recording(QdrantClient):
            def create_collection(self, *args: object, **kwargs: object) -> bool:  # type: ignore[override]
                asked.append(kwargs)
                return bool(super().create_collection(*args, **kwargs))  # type: ignore[arg-type]

        store = QdrantServerVectorStore(Recording(":memory:"), layout)
        plain = QdrantServerVectorStore(Recording(":memory:"))
        try:
            store.create_generation(GEN, DIM)
            store.create_generation(GEN, DIM)  # made once: an existing one keeps its layout
            plain.create_generation(GEN, DIM)
        finally:
            store.close()
            plain.close()
        assert len(asked) == 2
        laid, default = asked
        assert (laid["shard_number"], laid["replication_factor"]) == (12, 2)
        quantization = laid["quantization_config"]
        assert quantization.scalar.type == "int8" and quantization.scalar.always_ram  # type: ignore[attr-defined]
        assert laid["vectors_config"]["dense"].on_disk is True  # type: ignore[index]
        assert laid["sparse_vectors_config"]["bm25"].index.on_disk is True  # type: ignore[index]
        assert not {"shard_number", "replication_factor", "quantization_config"} & set(default)
        assert default["vectors_config"]["dense"].on_disk is None  # type: ignore[index]
        for name, wrong in (
            ("SEMANTIK_QDRANT_SHARDS", "0"),
            ("SEMANTIK_QDRANT_REPLICAS", "many"),
            ("SEMANTIK_QDRANT_QUANTIZATION", "int4"),
        ):
            monkeypatch.setenv(name, wrong)
            with pytest.raises(ValueError, match=name):
                ServiceSettings()
            monkeypatch.delenv(name)

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
