"""The Qdrant Edge store's index of document fields (``vectors.edge_index``): a query
that asks only for those fields gets them from the index, and they are the payload's,
whatever was written, deleted or reopened before it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from semantik_runtime.sparse import query_vector
from semantik_runtime.vectors import Hit, Point
from semantik_runtime.vectors.edge import EdgeVectorStore
from semantik_runtime.vectors.edge_index import PayloadIndex

from .vector_store_case import ALL, DIM, GEN, axis, make_point, point_id

FIELDS = ["document_id", "file_type", "source_id"]


def facts(hits: list[Hit]) -> dict[str, dict[str, object]]:
    return {hit.id: hit.payload for hit in hits}


def everything(store: EdgeVectorStore, payload: list[str] | None = FIELDS) -> list[Hit]:
    """Every point of the generation (a dense query deeper than the shard)."""
    return store.query(
        GEN, mode="dense", dense=axis(0, 0.1), sparse=None, limit=10, payload=payload
    )


def wait_ready(store: EdgeVectorStore) -> None:
    deadline = time.monotonic() + 30
    while not store._indexes[GEN].ready:
        assert time.monotonic() < deadline, "the index was never filled"
        time.sleep(0.01)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EdgeVectorStore]:
    store = EdgeVectorStore(tmp_path / "qdrant")
    store.create_generation(GEN, DIM)
    yield store
    store.close()


def typed(document: str, chunk: int, kind: str) -> Point:
    return make_point(document, chunk, file_type=kind, source_id=f"src-{kind}")


def test_fields_come_from_the_index_as_the_payload_has_them(store: EdgeVectorStore) -> None:
    store.upsert(GEN, [typed("doc-a", 0, "pdf"), typed("doc-a", 1, "pdf"), make_point("doc-b", 0)])
    found = facts(everything(store))
    assert found[point_id("doc-a", 1)] == {
        "document_id": "doc-a",
        "file_type": "pdf",
        "source_id": "src-pdf",
    }
    # A field the point does not have is left out, as the engine leaves it out.
    assert found[point_id("doc-b", 0)] == {"document_id": "doc-b"}
    # Any other field goes to the engine: the same points, with the payload it holds.
    whole = facts(everything(store, ["document_id", "chunk_index"]))
    assert whole[point_id("doc-a", 1)] == {"document_id": "doc-a", "chunk_index": 1}
    assert facts(everything(store, None))[point_id("doc-b", 0)]["text"]


def test_an_upsert_over_a_point_replaces_its_fields(store: EdgeVectorStore) -> None:
    store.upsert(GEN, [typed("doc-a", 0, "pdf"), typed("doc-a", 1, "pdf")])
    store.upsert(GEN, [typed("doc-a", 0, "md")])
    found = facts(everything(store))
    assert found[point_id("doc-a", 0)]["file_type"] == "md"
    assert found[point_id("doc-a", 1)]["file_type"] == "pdf"


def test_deleted_points_and_documents_leave_the_index(store: EdgeVectorStore) -> None:
    store.upsert(GEN, ALL)
    store.delete_document(GEN, "doc-a")
    store.delete_points(GEN, [point_id("doc-b", 0)])
    assert [hit.payload["document_id"] for hit in everything(store)] == ["doc-c"]
    index = store._indexes[GEN]
    assert index.payloads([point_id("doc-a", 0)], FIELDS) == [None]


def test_a_reopened_store_fills_its_index_from_the_shard(tmp_path: Path) -> None:
    first = EdgeVectorStore(tmp_path / "qdrant")
    first.create_generation(GEN, DIM)
    first.upsert(GEN, [typed("doc-a", 0, "pdf"), make_point("doc-c", 0)])
    expected = facts(everything(first))
    first.close()
    second = EdgeVectorStore(tmp_path / "qdrant")
    try:
        assert not second._indexes[GEN].ready
        # Before the index is filled, the engine answers; the first such query fills it.
        assert facts(everything(second)) == expected
        wait_ready(second)
        assert facts(everything(second)) == expected
        hits = second.query(
            GEN,
            mode="sparse",
            dense=None,
            sparse=query_vector("marathon"),
            limit=3,
            payload=["document_id"],
        )
        assert [(hit.id, hit.payload) for hit in hits] == [
            (point_id("doc-c", 0), {"document_id": "doc-c"})
        ]
    finally:
        second.close()


def test_a_point_the_index_lacks_is_read_from_the_shard(store: EdgeVectorStore) -> None:
    store.upsert(GEN, [typed("doc-a", 0, "pdf"), typed("doc-b", 0, "md")])
    store._indexes[GEN].forget_points([point_id("doc-b", 0)])
    found = facts(everything(store))
    assert found[point_id("doc-b", 0)] == {
        "document_id": "doc-b",
        "file_type": "md",
        "source_id": "src-md",
    }


def test_a_shard_over_the_limit_keeps_no_index(store: EdgeVectorStore) -> None:
    store._indexes[GEN] = small = PayloadIndex.empty()
    small.limit = 2
    store.upsert(GEN, ALL)
    assert small.too_large and not small.ready
    assert small.payloads([point_id("doc-a", 0)], FIELDS) == [None]
    # Its queries go to the engine, with the same answers.
    assert {hit.payload["document_id"] for hit in everything(store)} == {"doc-a", "doc-b", "doc-c"}
    small.start_filling(lambda offset: None)  # never fills again
    assert not small.ready


def test_filling_keeps_what_a_write_put_there_meanwhile() -> None:
    index = PayloadIndex()
    index.put([(point_id("doc-a", 0), {"document_id": "doc-a", "file_type": "md"})])

    class Record:
        def __init__(self, id: str, payload: dict[str, object]) -> None:
            self.id, self.payload = id, payload

    steps = iter(
        [
            ([Record(point_id("doc-a", 0), {"document_id": "doc-a", "file_type": "pdf"})], "next"),
            ([Record(point_id("doc-b", 0), {"document_id": "doc-b"})], None),
        ]
    )
    index.fill(lambda offset: next(steps))
    assert index.ready
    keys = [uuid.UUID(point_id("doc-a", 0)), uuid.UUID(point_id("doc-b", 0))]
    assert index.payloads(keys, ["document_id", "file_type"]) == [
        {"document_id": "doc-a", "file_type": "md"},
        {"document_id": "doc-b"},
    ]


def test_a_closed_shard_stops_the_fill() -> None:
    index = PayloadIndex()
    index.fill(lambda offset: None)
    assert not index.ready
