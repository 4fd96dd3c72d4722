"""The ingest service against a real NATS JetStream and its SQLite event store: indexing, re-scans,
reindexes and the pending-work gate."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid5

import pytest
from ingest_service.indexing.files import FIRST_FILES
from semantik_contracts import OperationType, SourceKind
from semantik_contracts.events import ScanStats
from semantik_contracts.subjects import EVENTS_STREAM, event_filter

from services.ingest.tests.harness import Harness
from services.ingest.tests.scans import ALPHA, BRAVO, CHARLIE, doc_id, kinds, stats_of, write_docs

pytestmark = pytest.mark.integration


async def test_index_rescan_change_and_delete(harness: Harness) -> None:
    h = harness
    docs = write_docs(h.root)
    await h.start()
    source = await h.add_source(docs)

    # -- first index: three documents, one duplicate, two failures -----------------
    op1 = await h.request([source])
    events = await h.scan_events(op1)
    assert events[0].type == "ScanStarted"
    assert events[-1].type == "ScanCompleted"
    assert kinds(events) == {
        "ScanStarted": 1,
        "DocumentRegistered": 3,
        "DocumentSkipped": 1,
        "DocumentFailed": 3,
        "ScanCompleted": 1,
    }
    skipped = next(e.event for e in events if e.type == "DocumentSkipped")
    assert (skipped.path, skipped.reason, skipped.document_id) == (
        str(docs / "copy-of-a.md"),
        "duplicate",
        doc_id(h, ALPHA),
    )
    failures = {e.event.path: e.event.reason for e in events if e.type == "DocumentFailed"}
    assert failures == {
        str(docs / "empty.txt"): "empty document",
        str(docs / "image.txt"): "binary file",
        str(docs / "report.pdf"): "corrupt PDF: Stream has ended unexpectedly",
    }
    sizes = len(ALPHA) + len(BRAVO) + len(CHARLIE)
    assert stats_of(events) == ScanStats(
        total_files_found=7, new_documents=3, duplicates_skipped=1, failed=3, bytes=sizes, chunks=3
    )

    work = await h.take_work()
    assert len(work) == 3
    by_doc = {message.document_id: (msg_id, message) for msg_id, message in work}
    assert set(by_doc) == {doc_id(h, ALPHA), doc_id(h, BRAVO), doc_id(h, CHARLIE)}
    msg_id, alpha = by_doc[doc_id(h, ALPHA)]
    assert msg_id == alpha.work_id == f"{op1}:{alpha.document_id}:g1"
    assert (alpha.operation_id, alpha.collection_id, alpha.generation) == (op1, h.collection_id, 1)
    assert alpha.replaces == []
    [chunk] = alpha.chunks
    assert chunk.chunk_id == uuid5(alpha.document_id, "0")
    assert chunk.text == ALPHA.decode().strip()
    assert chunk.sparse.indices and len(chunk.sparse.indices) == len(chunk.sparse.values)
    assert chunk.payload == {
        "document_id": str(alpha.document_id),
        "collection_id": str(h.collection_id),
        "source_id": str(source),
        "path": str(docs / "a.md"),
        "chunk_index": 0,
        "file_type": "md",
        "mime": "text/markdown",
    }

    # -- a re-scan of the unchanged source embeds nothing --------------------------
    op2 = await h.request([source])
    events = await h.scan_events(op2)
    assert [e.event.reason for e in events if e.type == "DocumentSkipped"].count("unchanged") == 3
    assert stats_of(events) == ScanStats(
        total_files_found=7, duplicates_skipped=1, unchanged_skipped=3, failed=3
    )
    assert await h.take_work() == []

    # -- a changed file replaces its old document ----------------------------------
    changed = "Bravo, changed: the letter B, spoken as bravo.\n"
    (docs / "b.txt").write_text(changed)
    op3 = await h.request([source], OperationType.APPEND)
    events = await h.scan_events(op3)
    superseded = next(e for e in events if e.type == "DocumentSuperseded")
    assert superseded.aggregate_id == superseded.event.previous_id == doc_id(h, BRAVO)
    assert superseded.event.document_id == doc_id(h, changed)
    assert stats_of(events) == ScanStats(
        total_files_found=7,
        new_documents=1,
        duplicates_skipped=1,
        unchanged_skipped=2,
        failed=3,
        removed=1,
        removed_chunks=1,
        removed_bytes=len(BRAVO),
        bytes=len(changed),
        chunks=1,
    )
    [(_, bravo)] = await h.take_work()
    assert (bravo.document_id, bravo.replaces) == (doc_id(h, changed), [doc_id(h, BRAVO)])

    # -- a deleted file is removed, its points deleted by the embedder -------------
    (docs / "sub" / "c.md").unlink()
    op4 = await h.request([source])
    events = await h.scan_events(op4)
    removed = [e.event for e in events if e.type == "DocumentRemoved"]
    assert [(r.document_id, r.path, r.chunk_count) for r in removed] == [
        (doc_id(h, CHARLIE), str(docs / "sub" / "c.md"), 1)
    ]
    assert [(d.document_ids, d.generation) for d in h.deleted] == [([doc_id(h, CHARLIE)], 1)]
    stats = stats_of(events)
    assert (stats.total_files_found, stats.removed, stats.removed_chunks, stats.chunks) == (
        6,
        1,
        1,
        0,
    )
    assert await h.take_work() == []


async def test_a_batch_decides_each_file_against_the_files_before_it(harness: Harness) -> None:
    """A batch's files are classified together but decided in walk order: a file that
    moved to a later path, and a file whose content an earlier one of the batch holds,
    come out as they would one file at a time."""
    h = harness
    docs = h.root / "moves"
    docs.mkdir()
    moved, new, twice = "Text that moves to b.\n", "New text for a.\n", "The same words.\n"
    (docs / "a.txt").write_text(moved)
    await h.start()
    source = await h.add_source(docs)
    await h.scan_events(await h.request([source]))
    await h.take_work()

    (docs / "a.txt").write_text(new)
    (docs / "b.txt").write_text(moved)
    (docs / "c.txt").write_text(twice)
    (docs / "d.txt").write_text(twice)
    assert len(list(docs.iterdir())) <= FIRST_FILES  # one batch
    op = await h.request([source])
    events = await h.scan_events(op)
    registered = [e.event for e in events if e.type == "DocumentRegistered"]
    assert [(e.path.rsplit("/", 1)[1], e.document_id) for e in registered] == [
        ("a.txt", doc_id(h, new)),  # superseding what a held,
        ("b.txt", doc_id(h, moved)),  # which is then no duplicate but b's
        ("c.txt", doc_id(h, twice)),
    ]
    [skipped] = [e.event for e in events if e.type == "DocumentSkipped"]
    assert (skipped.path, skipped.reason, skipped.document_id) == (
        str(docs / "d.txt"),
        "duplicate",
        doc_id(h, twice),
    )
    current = {
        path.name: record.id
        for path in docs.iterdir()
        if (record := h.app.registry.current_at(h.collection_id, str(path))) is not None
    }
    assert current == {
        "a.txt": doc_id(h, new),
        "b.txt": doc_id(h, moved),
        "c.txt": doc_id(h, twice),
    }
    work = {message.document_id: message.replaces for _, message in await h.take_work()}
    assert work == {doc_id(h, new): [doc_id(h, moved)], doc_id(h, moved): [], doc_id(h, twice): []}


async def test_an_interrupted_scan_resumes_without_duplicating(harness: Harness) -> None:
    h = harness
    docs = h.root / "many"
    docs.mkdir()
    texts = [f"Document number {n} talks about topic {n * 7}.\n" for n in range(5)]
    for n, text in enumerate(texts):
        (docs / f"{n}.txt").write_text(text)
    # With room for one pending chunk and no embedder, the first document's work is
    # published and the rest of its batch waits at the gate, registered; the last
    # document waits for the batch's turn: then the service stops.
    await h.start(max_pending=1)
    operation_id = await h.request([await h.add_source(docs)])
    for _ in range(1200):
        if await h.waiting_work() == 1 and len(h.app.registry.documents) == FIRST_FILES:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    assert await h.waiting_work() == 1  # bounded: the gate holds the rest back
    # Three registered and never published, one never registered.
    assert len(h.app.registry.documents) == FIRST_FILES == 4
    await h.shut_down()

    await h.start()  # the event store says the scan is open: it resumes at start-up
    events = await h.scan_events(operation_id)
    assert kinds(events) == {"ScanStarted": 1, "DocumentRegistered": 5, "ScanCompleted": 1}
    assert stats_of(events).chunks == 5
    work = await h.take_work()
    assert sorted(message.document_id for _, message in work) == sorted(
        doc_id(h, text) for text in texts
    )
    assert all(msg_id == f"{operation_id}:{m.document_id}:g1" for msg_id, m in work)


async def test_work_waits_for_the_embedders_when_too_much_is_pending(harness: Harness) -> None:
    h = harness
    docs = h.root / "queue"
    docs.mkdir()
    for n in range(6):
        (docs / f"{n}.md").write_text(f"# Note {n}\n\nA short note, number {n}.\n")
    await h.start(max_pending=2)
    operation_id = await h.request([await h.add_source(docs)])
    for _ in range(1200):
        if await h.waiting_work() == 2:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    assert await h.waiting_work() == 2
    taken = []
    for _ in range(100):
        taken += await h.take_work(limit=1)
        assert await h.waiting_work() <= 2
        if len(taken) == 6:
            break
    assert len(taken) == 6
    assert stats_of(await h.scan_events(operation_id)).chunks == 6


async def test_a_single_file_source_and_an_unknown_source(harness: Harness) -> None:
    h = harness
    (h.root / "one.rst").write_text("Title\n=====\n\nSome reStructuredText.\n")
    await h.start()
    file_source = await h.add_source(h.root / "one.rst", SourceKind.FILE)
    unknown = UUID(int=7)
    operation_id = await h.request([file_source, unknown])
    events = await h.scan_events(operation_id)
    [failed] = [e.event for e in events if e.type == "DocumentFailed"]
    assert failed.source_id == unknown
    assert "unknown" in failed.reason
    stats = stats_of(events)
    assert (stats.total_files_found, stats.new_documents, stats.failed) == (1, 1, 1)
    [(_, message)] = await h.take_work()
    assert message.chunks[0].payload["mime"] == "text/x-rst"


async def test_operations_of_other_types_are_ignored(harness: Harness) -> None:
    h = harness
    await h.start()
    delete = await h.request([], OperationType.DELETE)
    index = await h.request([])
    assert stats_of(await h.scan_events(index)) == ScanStats()
    scans = [e.event.operation_id for e in await h.events() if e.type == "ScanStarted"]
    assert scans == [index] and delete not in scans
    info = await h.bus.js.consumer_info(EVENTS_STREAM, "ingest-OperationRequested")
    assert info.config.filter_subject == event_filter(event_type="OperationRequested")


async def test_a_reindex_embeds_every_document_again_into_its_generation(
    harness: Harness,
) -> None:
    h = harness
    docs = write_docs(h.root)
    await h.start()
    source = await h.add_source(docs)
    first = stats_of(await h.scan_events(await h.request([source])))
    await h.take_work()
    (docs / "b.txt").write_text(BRAVO + "Bravo changed before the reindex.\n")

    reindex = await h.request(
        [source], OperationType.REINDEX, generation=2, chunk_size=8, chunk_overlap=0
    )
    events = await h.scan_events(reindex)
    stats = stats_of(events)
    work = [message for _, message in await h.take_work()]
    # Unchanged documents are embedded again (not skipped), the changed one is new.
    assert (stats.reindexed_documents, stats.new_documents) == (2, 1)
    assert stats.unchanged_skipped == 0 and stats.duplicates_skipped == 1
    assert {m.document_id for m in work} == {
        doc_id(h, ALPHA),
        doc_id(h, CHARLIE),
        doc_id(h, BRAVO + "Bravo changed before the reindex.\n"),
    }
    assert all(m.generation == 2 for m in work)
    # The new chunking: smaller chunks, so more of them, and the totals agree.
    assert stats.chunks == sum(len(m.chunks) for m in work) > first.chunks
    # A later index of the same content skips it again: the registry did not change.
    again = stats_of(await h.scan_events(await h.request([source])))
    assert (again.new_documents, again.unchanged_skipped) == (0, 3)


async def test_a_long_scan_reports_progress_every_second(harness: Harness) -> None:
    h = harness
    docs = h.root / "slow"
    docs.mkdir()
    for n in range(4):
        (docs / f"{n}.txt").write_text(f"Note {n}: waiting for an embedder that is slow.\n")
    await h.start(max_pending=1)  # no embedder takes work: the scan waits at the gate
    operation_id = await h.request([await h.add_source(docs)])
    await asyncio.sleep(3.5)
    reports = [
        e.event
        for e in await h.events()
        if e.type == "ScanProgressed" and e.event.operation_id == operation_id
    ]
    assert len(reports) >= 2
    assert all(r.files_found == 4 and r.files_done < 4 for r in reports)
    assert reports[-1].stats.new_documents >= 1
    taken = []
    while len(taken) < 4:
        taken += await h.take_work(limit=1)
    stats = stats_of(await h.scan_events(operation_id))
    assert stats.new_documents == 4
