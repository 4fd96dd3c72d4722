"""Record sources against real NATS JetStream: one document per row, and its lifecycle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from semantik_contracts import SourceKind

from services.ingest.tests.harness import Harness
from services.ingest.tests.scans import kinds, stats_of

pytestmark = pytest.mark.integration


def write_corpus(path: Path, rows: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


CORPUS = [
    {"_id": "s1", "title": "Volcanoes", "text": "Magma rises through the crust.", "kind": "geo"},
    {"_id": "s2", "title": "Bread", "text": "Sourdough needs a starter.", "kind": "food"},
    {"_id": "s3", "title": "", "text": "Orbits are ellipses.", "kind": "space"},
]


async def test_a_beir_corpus_is_one_document_per_row(harness: Harness) -> None:
    h = harness
    corpus = h.root / "corpus.jsonl"
    write_corpus(corpus, CORPUS)
    await h.start()
    source = await h.add_source(
        corpus, SourceKind.FILE, ["title", "text"], ["kind"], id_column="_id"
    )

    first = await h.request([source])
    events = await h.scan_events(first)
    assert kinds(events) == {"ScanStarted": 1, "DocumentRegistered": 3, "ScanCompleted": 1}
    registered = {e.event.path for e in events if e.type == "DocumentRegistered"}
    assert registered == {f"{corpus}#s1", f"{corpus}#s2", f"{corpus}#s3"}
    stats = stats_of(events)
    assert (stats.total_files_found, stats.new_documents, stats.chunks) == (3, 3, 3)
    work = {m.chunks[0].payload["record_id"]: m for _, m in await h.take_work()}
    assert work["s1"].chunks[0].text == "Volcanoes\n\nMagma rises through the crust."
    assert work["s3"].chunks[0].text == "Orbits are ellipses."
    assert work["s2"].chunks[0].payload == {
        "document_id": str(work["s2"].document_id),
        "collection_id": str(h.collection_id),
        "source_id": str(source),
        "path": f"{corpus}#s2",
        "file": str(corpus),
        "row": "line 2",
        "record_id": "s2",
        "columns": {"kind": "food"},
        "chunk_index": 0,
        "file_type": "jsonl",
        "mime": "application/x-ndjson",
    }

    # -- unchanged: nothing embedded ------------------------------------------------
    again = await h.request([source])
    stats = stats_of(await h.scan_events(again))
    assert (stats.unchanged_skipped, stats.new_documents) == (3, 0)
    assert await h.take_work() == []

    # -- one row changed, one gone, one added ---------------------------------------
    changed = [
        {**CORPUS[0], "text": "Magma and lava."},
        CORPUS[2],
        {"_id": "s4", "title": "Tides", "text": "The moon pulls the sea.", "kind": "geo"},
    ]
    write_corpus(corpus, changed)
    third = await h.request([source])
    events = await h.scan_events(third)
    stats = stats_of(events)
    assert (stats.new_documents, stats.unchanged_skipped, stats.removed) == (2, 1, 2)
    superseded = [e.event for e in events if e.type == "DocumentSuperseded"]
    assert [s.previous_id for s in superseded] == [work["s1"].document_id]
    removed = [e.event.path for e in events if e.type == "DocumentRemoved"]
    assert removed == [f"{corpus}#s2"]
    assert [d.document_ids for d in h.deleted] == [[work["s2"].document_id]]
    replaced = {m.chunks[0].payload["record_id"]: m.replaces for _, m in await h.take_work()}
    assert replaced == {"s1": [work["s1"].document_id], "s4": []}


async def test_changing_the_columns_re_embeds_every_row_replacing_the_old(
    harness: Harness,
) -> None:
    h = harness
    table = h.root / "products.csv"
    table.write_text("sku,name,blurb,,name\n1,Hammer,Drives nails,x,y\n2,Saw,Cuts wood,x,y\n")
    await h.start()
    source = await h.add_source(table, SourceKind.FILE, ["name"], id_column="sku")
    await h.scan_events(await h.request([source]))
    old = {m.chunks[0].payload["record_id"]: m for _, m in await h.take_work()}
    assert {k: m.chunks[0].text for k, m in old.items()} == {"1": "Hammer", "2": "Saw"}

    await h.change_columns(source, 2, ["name", "blurb"], id_column="sku")
    events = await h.scan_events(await h.request([source]))
    assert stats_of(events).new_documents == 2
    new = {m.chunks[0].payload["record_id"]: m for _, m in await h.take_work()}
    assert {k: m.chunks[0].text for k, m in new.items()} == {
        "1": "Hammer\n\nDrives nails",
        "2": "Saw\n\nCuts wood",
    }
    # The old vectors go only once the new ones are written (the embedder does it).
    assert {k: m.replaces for k, m in new.items()} == {k: [m.document_id] for k, m in old.items()}
    assert h.deleted == []

    # A column that is not in the file fails the file, and keeps what it had.
    await h.change_columns(source, 3, ["title"], id_column="sku")
    events = await h.scan_events(await h.request([source]))
    [failed] = [e.event for e in events if e.type == "DocumentFailed"]
    assert failed.path == str(table)
    assert failed.reason == "column 'title' not found; the columns are: sku, name, blurb"
    assert not [e for e in events if e.type in ("DocumentRemoved", "DocumentSuperseded")]


async def test_a_directory_of_record_files_and_documents(harness: Harness) -> None:
    h = harness
    folder = h.root / "mixed"
    folder.mkdir()
    (folder / "note.md").write_text("# Note\n\nA plain document beside tables.\n")
    (folder / "rows.csv").write_text("q,a\nWhat is NATS?,A message broker.\nWhy?,Speed.\n")
    (folder / "copy.csv").write_text("q,a\nWhat is NATS?,A message broker.\n")
    await h.start()
    source = await h.add_source(folder)
    events = await h.scan_events(await h.request([source]))
    stats = stats_of(events)
    assert (stats.new_documents, stats.duplicates_skipped) == (3, 1)
    [skip] = [e.event for e in events if e.type == "DocumentSkipped"]
    assert skip.path == f"{folder / 'rows.csv'}#row 2"  # walk order: copy.csv comes first
    texts = sorted(m.chunks[0].text for _, m in await h.take_work())
    assert texts == [
        "# Note\n\nA plain document beside tables.",
        "q: What is NATS?\na: A message broker.",
        "q: Why?\na: Speed.",
    ]

    # The record file vanishes: its rows go on the next scan, the note stays.
    (folder / "rows.csv").unlink()
    events = await h.scan_events(await h.request([source]))
    removed = sorted(e.event.path for e in events if e.type == "DocumentRemoved")
    assert removed == [f"{folder / 'rows.csv'}#row 3"]


async def test_a_file_of_many_rows_is_registered_in_growing_batches(harness: Harness) -> None:
    """100 rows: batches of 32, 64 and 4, each chunked while the one before it is
    registered; every row becomes one document and one piece of work, once."""
    h = harness
    corpus = h.root / "many.jsonl"
    rows = [{"_id": f"r{i}", "title": f"Row {i}", "text": f"Fact number {i}."} for i in range(100)]
    write_corpus(corpus, rows)
    await h.start()
    source = await h.add_source(corpus, SourceKind.FILE, ["title", "text"], [], id_column="_id")
    events = await h.scan_events(await h.request([source]))
    assert kinds(events)["DocumentRegistered"] == 100
    work = [m.chunks[0].payload["record_id"] for _, m in await h.take_work()]
    assert sorted(work) == sorted(row["_id"] for row in rows)
