"""Embed work messages: one per document, split in parts only past the size limit."""

from __future__ import annotations

from uuid import uuid4, uuid5

import pytest
from ingest_service.extraction.chunking import Chunk
from ingest_service.extraction.extract import DocumentError
from ingest_service.extraction.preparation import ChunkJob, chunk_jobs, chunk_work
from ingest_service.extraction.units import Unit
from ingest_service.indexing.work import WorkTarget, embed_messages
from semantik_runtime.sparse import document_vector

from services.ingest.tests.corpus import pdf_bytes

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


def test_a_title_heads_every_chunk_after_the_first_in_both_vectors() -> None:
    t = target()
    chunks = [Chunk(0, "Aspirin\n\nAspirin thins blood.", 6), Chunk(1, "Doses vary.", 3)]
    first, later = chunk_work(t.document_id, chunks, {}, title="Aspirin")
    assert (first.header, later.header) == ("", "Aspirin")  # the first begins with it
    assert later.text == "Doses vary." and later.embedded_text == "Aspirin\n\nDoses vary."
    expected = document_vector("Aspirin\n\nDoses vary.")
    assert (later.sparse.indices, later.sparse.values) == (expected.indices, expected.values)
    [plain] = chunk_work(t.document_id, chunks[1:], {})  # a file: no title
    assert plain.header == "" and plain.embedded_text == "Doses vary."


def test_a_records_title_heads_its_later_chunks_unless_it_would_crowd_them_out() -> None:
    body = " ".join(f"sentence {n} about dosage." for n in range(60))

    def headers(title: str) -> list[str]:
        text = f"{title}\n\n{body}"
        unit = Unit(
            "/d/t.jsonl#1", "/d/t.jsonl", "0" * 64, len(text), "", "jsonl", text, title=title
        )
        [items] = chunk_jobs([ChunkJob(unit, uuid4(), {}, 64, 0)])
        assert not isinstance(items, DocumentError) and len(items) > 2
        return [item.header for item in items]

    first, *later = headers("Aspirin dosage")
    assert first == "" and set(later) == {"Aspirin dosage"}
    long_title = " ".join(["aspirin"] * 17)  # more than a quarter of the 64-token chunk
    assert set(headers(long_title)) == {""}


def test_a_files_title_heads_its_later_chunks_as_a_records_does() -> None:
    body = "\n\n".join(f"Sentence {n} about dosage." for n in range(60))

    def headers(name: str, text: str, data: bytes = b"") -> list[str]:
        data = data or text.encode()
        kind = name.rpartition(".")[2]
        unit = Unit(f"/d/{name}", f"/d/{name}", "0" * 64, len(data), "", kind, data=data)
        [items] = chunk_jobs([ChunkJob(unit, uuid4(), {}, 64, 0)])
        assert not isinstance(items, DocumentError) and len(items) > 2
        assert all(item.text.startswith("Sentence") for item in items[1:])  # stored bare
        return [item.header for item in items]

    first, *later = headers("a.md", f"# Aspirin dosage\n\n{body}")
    assert first == "" and set(later) == {"Aspirin dosage"}
    assert set(headers("a.md", body)) == {""}  # no heading, no title
    assert set(headers("a.txt", f"# Aspirin dosage\n\n{body}")) == {""}  # plain text has none
    long_title = " ".join(["aspirin"] * 17)  # more than a quarter of the 64-token chunk
    assert set(headers("a.md", f"# {long_title}\n\n{body}")) == {""}
    pdf = pdf_bytes(f"Aspirin dosage\n\n{body}", title="Aspirin dosage")  # its title field, printed
    first, *later = headers("a.pdf", "", pdf)
    assert first == "" and set(later) == {"Aspirin dosage"}


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
