"""The ingest service against a real NATS JetStream and its SQLite event store: cancelled and
timed-out operations, and removing a source."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from semantik_contracts import OperationType
from semantik_contracts.events import OperationCancelled, OperationFailed, OperationRequested

from services.ingest.tests.harness import Harness
from services.ingest.tests.scans import doc_id, drain, stats_of

pytestmark = pytest.mark.integration


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
