"""The ingest service against a real NATS JetStream and its SQLite event store."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from pathlib import Path
from uuid import UUID, uuid4, uuid5

import pytest
from semantik_contracts import ErrorCode, OperationType, RpcFailure, SourceKind
from semantik_contracts.commands import ValidatedSource, ValidateSource
from semantik_contracts.events import (
    OperationCancelled,
    OperationFailed,
    OperationRequested,
    ScanStats,
)
from semantik_contracts.subjects import EVENTS_STREAM, INGEST, command_subject, event_filter
from semantik_contracts.work import EmbedChunks

from services.ingest.tests.harness import Harness

pytestmark = pytest.mark.integration

ALPHA = b"# Alpha\n\nAlpha particles are helium nuclei emitted in radioactive decay.\n"
BRAVO = "Bravo is the letter B in the NATO phonetic alphabet.\n"
CHARLIE = "# Charlie\n\nCharlie writes about chunking markdown by headings.\n"


def write_docs(root: Path) -> Path:
    docs = root / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.md").write_bytes(ALPHA)
    (docs / "b.txt").write_text(BRAVO)
    (docs / "copy-of-a.md").write_bytes(ALPHA)
    (docs / "empty.txt").write_bytes(b"")
    (docs / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    (docs / "report.pdf").write_bytes(b"%PDF-1.7")  # a PDF cut off after its header
    (docs / "photo.jpeg").write_bytes(b"\xff\xd8\xff\xe0")  # not a format of ours
    (docs / "sub" / "c.md").write_text(CHARLIE)
    return docs


def doc_id(h: Harness, data: bytes | str) -> UUID:
    raw = data.encode() if isinstance(data, str) else data
    return uuid5(h.collection_id, hashlib.sha256(raw).hexdigest())


def stats_of(events: list) -> ScanStats:  # type: ignore[type-arg]
    completed = [e.event for e in events if e.type == "ScanCompleted"]
    assert len(completed) == 1
    return completed[0].stats  # type: ignore[no-any-return]


def kinds(events: list) -> Counter[str]:  # type: ignore[type-arg]
    """How many events of each type, leaving out progress reports (they come by time)."""
    return Counter(e.type for e in events if e.type != "ScanProgressed")


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


async def test_an_interrupted_scan_resumes_without_duplicating(harness: Harness) -> None:
    h = harness
    docs = h.root / "many"
    docs.mkdir()
    texts = [f"Document number {n} talks about topic {n * 7}.\n" for n in range(5)]
    for n, text in enumerate(texts):
        (docs / f"{n}.txt").write_text(text)
    # With room for one pending chunk and no embedder, the first document's work is
    # published and the others wait at the gate, registered: then the service stops.
    await h.start(max_pending=1)
    operation_id = await h.request([await h.add_source(docs)])
    for _ in range(1200):
        if await h.waiting_work() == 1 and len(h.app.registry.documents) == 5:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    assert await h.waiting_work() == 1  # bounded: the gate holds the rest back
    assert len(h.app.registry.documents) == 5  # four registered and never published
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


async def test_validate_source_answers_over_the_bus(harness: Harness) -> None:
    h = harness
    (h.root / "docs").mkdir()
    (h.root / "docs" / "x.exe").write_bytes(b"MZ")
    await h.start()
    subject = command_subject(INGEST, "ValidateSource")
    ok = await h.bus.request(
        subject, ValidateSource(path=f"{h.root}/docs/../docs"), ValidatedSource
    )
    assert ok == ValidatedSource(path=str((h.root / "docs").resolve()), kind=SourceKind.DIRECTORY)
    for path, expected in [
        (f"{h.root}/../../etc", "outside the allowed source roots"),
        (f"{h.root}/missing", "does not exist"),
        (f"{h.root}/docs/x.exe", "unsupported file type .exe"),
    ]:
        with pytest.raises(RpcFailure) as caught:
            await h.bus.request(subject, ValidateSource(path=path), ValidatedSource)
        assert caught.value.error.code is ErrorCode.INVALID
        assert expected in caught.value.error.message


async def drain(h: Harness, operation_id: UUID) -> list[tuple[str, EmbedChunks]]:
    """Take work as an embedder would until the operation's scan completed."""
    taken = []
    for _ in range(200):
        taken += await h.take_work(limit=1)
        events = await h.events()
        done = any(
            e.type == "ScanCompleted" and e.event.operation_id == operation_id for e in events
        )
        if done and not await h.waiting_work():
            return taken
    raise AssertionError(f"the scan of {operation_id} did not complete")


@pytest.mark.parametrize("ending", ["cancelled", "timed out"])
async def test_an_ended_operations_scan_stops_and_keeps_what_it_registered(
    harness: Harness, ending: str
) -> None:
    """Cancelled, or failed by OPERATION_TIMEOUT_SECONDS: the scan stops either way."""
    h = harness
    docs = h.root / "many"
    docs.mkdir()
    for n in range(20):
        (docs / f"{n:02}.md").write_text(f"# Note {n}\n\nA short note, number {n}.\n")
    await h.start(max_pending=2)
    source = await h.add_source(docs)
    operation_id = await h.request([source])
    for _ in range(1200):  # the scan is under way, held back by the pending work
        if await h.waiting_work() == 2:
            break
        await asyncio.sleep(0.05)
    ended: OperationCancelled | OperationFailed = (
        OperationCancelled(collection_id=h.collection_id, operation_id=operation_id)
        if ending == "cancelled"
        else OperationFailed(
            collection_id=h.collection_id,
            operation_id=operation_id,
            error="timed out after 60 s (OPERATION_TIMEOUT_SECONDS)",
        )
    )
    await h.publish("operation", operation_id, ended, version=2)
    taken = await drain(h, operation_id)
    stats = stats_of(await h.scan_events(operation_id))
    assert stats.stopped
    assert 0 < stats.new_documents < 20
    # Everything it registered has its work published: nothing is half-done.
    assert len(taken) == stats.new_documents == stats.chunks

    # The next index picks up where it stopped; what was registered is unchanged.
    again = await h.request([source])
    assert len(await drain(h, again)) == 20 - stats.new_documents
    rest = stats_of(await h.scan_events(again))
    assert not rest.stopped
    assert (rest.new_documents, rest.unchanged_skipped) == (
        20 - stats.new_documents,
        stats.new_documents,
    )


async def test_an_operation_cancelled_before_its_scan_is_not_scanned(harness: Harness) -> None:
    h = harness
    docs = h.root / "few"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nSome text.\n")
    await h.start()
    source = await h.add_source(docs)
    cancelled = uuid4()
    ended = OperationCancelled(collection_id=h.collection_id, operation_id=cancelled)
    await h.publish("operation", cancelled, ended, version=2)
    event = OperationRequested(
        collection_id=h.collection_id,
        operation_id=cancelled,
        operation_type=OperationType.INDEX,
        requested_by="u1",
        source_ids=[source],
    )
    await h.publish("operation", cancelled, event)
    later = await h.request([source])
    assert stats_of(await h.scan_events(later)).new_documents == 1
    assert cancelled not in {
        e.event.operation_id for e in await h.events() if e.type == "ScanStarted"
    }


async def test_remove_source_removes_exactly_that_sources_documents(harness: Harness) -> None:
    h = harness
    first, second = h.root / "first", h.root / "second"
    for folder, words in ((first, "alpha beta"), (second, "gamma delta")):
        folder.mkdir()
        for n in range(3):
            (folder / f"{n}.txt").write_text(f"{words} number {n}\n")
    (second / "same-as-first.txt").write_text("alpha beta number 0\n")  # a duplicate
    later = h.root / "later"
    later.mkdir()
    (later / "copy.txt").write_text("gamma delta number 1\n")  # held back as a duplicate
    await h.start()
    keep, drop = await h.add_source(first), await h.add_source(second)
    await h.scan_events(await h.request([keep, drop]))
    copy_holder = await h.add_source(later)
    stats = stats_of(await h.scan_events(await h.request([copy_holder])))
    assert stats.duplicates_skipped == 1
    await h.take_work()

    operation_id = await h.request([drop], OperationType.REMOVE_SOURCE)
    events = await h.scan_events(operation_id)
    removed = sorted(e.event.path for e in events if e.type == "DocumentRemoved")
    assert removed == [str(second / f"{n}.txt") for n in range(3)]
    gone = {doc for command in h.deleted for doc in command.document_ids}
    assert gone == {doc_id(h, f"gamma delta number {n}\n") for n in range(3)}
    # The copy the other source held is indexed there now: its content stays findable.
    [found_again] = [e.event for e in events if e.type == "DocumentRegistered"]
    assert (found_again.path, found_again.source_id) == (str(later / "copy.txt"), copy_holder)
    [(_, work)] = await h.take_work()
    assert work.document_id == doc_id(h, "gamma delta number 1\n")
    stats = stats_of(events)
    assert (stats.removed, stats.removed_chunks, stats.new_documents, stats.chunks) == (3, 3, 1, 1)
    left = h.app.documents_of_source(h.collection_id, keep)
    assert [d.path for d in left] == [str(first / f"{n}.txt") for n in range(3)]
    assert h.app.documents_of_source(h.collection_id, drop) == []


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


async def test_validate_source_answers_a_record_files_columns(harness: Harness) -> None:
    """What the web UI offers to choose from before a table is added: its usable columns,
    without the blank and repeated headers a scan would skip."""
    h = harness
    (h.root / "tables").mkdir()
    (h.root / "tables" / "tickets.csv").write_text("ticket_id,title,,body,title\n1,a,,b,c\n")
    (h.root / "tables" / "rows.jsonl").write_text('{"id": 1, "text": "x"}\n')
    await h.start()
    subject = command_subject(INGEST, "ValidateSource")
    csv = await h.bus.request(
        subject, ValidateSource(path=f"{h.root}/tables/tickets.csv"), ValidatedSource
    )
    assert (csv.kind, csv.columns) == (SourceKind.FILE, ["ticket_id", "title", "body"])
    jsonl = await h.bus.request(
        subject, ValidateSource(path=f"{h.root}/tables/rows.jsonl"), ValidatedSource
    )
    assert jsonl.columns == ["id", "text"]
    folder = await h.bus.request(subject, ValidateSource(path=f"{h.root}/tables"), ValidatedSource)
    assert (folder.kind, folder.columns) == (SourceKind.DIRECTORY, [])


async def test_validate_source_keeps_semantiks_data_hidden_files_and_ungranted_roots_shut(
    harness: Harness, tmp_path: Path
) -> None:
    """SPEC §11 over the bus, with roots wide enough to hold the data dir (as
    SEMANTIK_SOURCE_ROOTS=/ would): FORBIDDEN, and nothing told about what exists there."""
    h = harness
    h.root = tmp_path
    shared = tmp_path / "sources"
    for path in ("a/report.md", "a/.env", "b/plan.md"):
        (shared / path).parent.mkdir(parents=True, exist_ok=True)
        (shared / path).write_text("# text\n")
    await h.start()
    name = f"{h.collection_id}/notes.md"
    await (await h.bus.upload_store()).put(name, b"# Notes\n")
    subject = command_subject(INGEST, "ValidateSource")

    async def refused(path: str, roots: list[str] | None = None) -> str:
        with pytest.raises(RpcFailure) as caught:
            await h.bus.request(subject, ValidateSource(path=path, roots=roots), ValidatedSource)
        assert caught.value.error.code is ErrorCode.FORBIDDEN, caught.value.error.message
        return caught.value.error.message

    granted = [str(shared / "a")]
    for path, roots, expected in [
        (f"{h.data_dir}/eventstore/ingest.sqlite3", None, "Semantik's own data"),
        (f"{shared}/../data", None, "Semantik's own data"),
        (f"{h.data_dir}/secrets/nats.creds", None, "Semantik's own data"),  # not there
        (f"{shared}/a/.env", None, "hidden"),
        (f"{shared}/a/report.md", [], "no source roots were granted to you"),
        (f"{shared}/b/plan.md", granted, "outside the source roots granted to you"),
        (f"{shared}/a/report.md", [str(tmp_path.parent)], "no source roots were granted"),
    ]:
        assert expected in await refused(path, roots)
    ok = await h.bus.request(
        subject, ValidateSource(path=f"{shared}/a/report.md", roots=granted), ValidatedSource
    )
    assert (ok.path, ok.kind) == (str((shared / "a" / "report.md").resolve()), SourceKind.FILE)
    # An upload is not subject to the granted roots; its copy is no plain path.
    upload = await h.bus.request(
        subject, ValidateSource(path=f"upload://{name}", roots=[]), ValidatedSource
    )
    assert (upload.path, upload.kind) == (
        str(h.data_dir.resolve() / "uploads" / name),
        SourceKind.UPLOAD,
    )
    assert "Semantik's own data" in await refused(upload.path)


async def test_scans_read_uploads_as_uploads_and_skip_links_into_the_data_dir(
    harness: Harness, tmp_path: Path
) -> None:
    h = harness
    h.root = tmp_path
    docs = tmp_path / "sources" / "docs"
    docs.mkdir(parents=True)
    (docs / "a.md").write_bytes(ALPHA)
    (docs / "data").symlink_to(h.data_dir)
    (h.data_dir / "secrets").mkdir(parents=True)
    (h.data_dir / "secrets" / "token.md").write_text("# A secret\n")
    (docs / "token.md").symlink_to(h.data_dir / "secrets" / "token.md")
    await h.start()
    name = f"{h.collection_id}/notes.md"
    await (await h.bus.upload_store()).put(name, BRAVO.encode())
    local = h.data_dir.resolve() / "uploads" / name
    folder = await h.add_source(docs)
    uploaded = await h.add_source(local, SourceKind.UPLOAD)  # its copy is fetched
    # A plain source naming an upload's copy (recorded before uploads were shut) fails.
    plain = await h.add_source(local, SourceKind.FILE)
    events = await h.scan_events(await h.request([folder, uploaded, plain]))
    registered = sorted(e.event.path for e in events if e.type == "DocumentRegistered")
    assert registered == sorted([str(docs / "a.md"), str(local)])
    failed = [e.event for e in events if e.type == "DocumentFailed"]
    assert [(f.path, "Semantik's own data" in f.reason) for f in failed] == [(str(local), True)]
