"""Embed work messages: one per document, split in parts only past the size limit."""

from __future__ import annotations

from uuid import uuid4, uuid5

import pytest
from ingest_service.extraction.chunking import Chunk
from ingest_service.extraction.preparation import chunk_work
from ingest_service.indexing.work import WorkTarget, embed_messages
from semantik_runtime.sparse import document_vector

pytestmark = pytest.mark.unit


def target() -> WorkTarget:
    return WorkTarget(uuid4(), uuid4(), 2, "sentence-transformers/all-MiniLM-L6-v2", uuid4())


def test_chunks_carry_point_ids_bm25_terms_and_payload() -> None:
    t = target()
    chunks = [Chunk(0, "Proteins fold.", 3), Chunk(1, "Cells divide quickly.", 4)]
    items = chunk_work(t.document_id, chunks, {"path": "/d/a.md"})
    assert [i.chunk_id for i in items] == [uuid5(t.document_id, "0"), uuid5(t.document_id, "1")]
    assert items[1].payload == {"path": "/d/a.md", "chunk_index": 1}
    expected = document_vector("Cells divide quickly.")
    assert (items[1].sparse.indices, items[1].sparse.values) == (expected.indices, expected.values)


def test_a_document_travels_in_one_message_under_its_work_id() -> None:
    t = target()
    items = chunk_work(t.document_id, [Chunk(i, f"chunk {i}", 2) for i in range(5)], {})
    replaced = [uuid4()]
    [message] = embed_messages(t, items, replaced, 1 << 20)
    assert message.work_id == f"{t.operation_id}:{t.document_id}:g2"
    assert (message.generation, message.model, message.replaces) == (2, t.model, replaced)
    assert len(message.chunks) == 5


def test_a_document_too_big_for_one_message_is_split_into_parts() -> None:
    t = target()
    text = "word " * 400  # about 2 kB per chunk
    items = chunk_work(t.document_id, [Chunk(i, text, 400) for i in range(10)], {})
    replaced = [uuid4()]
    messages = embed_messages(t, items, replaced, 12_000)
    assert len(messages) > 1
    base = f"{t.operation_id}:{t.document_id}:g2"
    assert [m.work_id for m in messages] == [f"{base}:p{n}" for n in range(len(messages))]
    assert [m.replaces for m in messages] == [[]] * (len(messages) - 1) + [replaced]
    assert [c.index for m in messages for c in m.chunks] == list(range(10))
    assert all(len(m.model_dump_json()) <= 12_000 for m in messages)
