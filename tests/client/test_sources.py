"""Sources, operations, documents and search through the client, against a running
system: a path source indexed and waited for, found by search; uploads; a cancel."""

from __future__ import annotations

from pathlib import Path

import pytest

from semantik.client import EventFrame, InvalidRequestError, SearchType
from semantik.client.models import SourceSync
from tests.e2e.conftest import RunningSystem

from .conftest import SignedIn, write_notes

pytestmark = pytest.mark.e2e

NOTES = {
    "pricing.md": "# Pricing\n\nWe decided to raise the team plan to twelve euros a seat.",
    "garden.md": "# Garden\n\nThe tomatoes need watering twice a week in July.",
}


async def test_a_path_source_is_indexed_waited_for_and_found(
    system: RunningSystem, signed_in: SignedIn
) -> None:
    folder = write_notes(system.sources / "dora", NOTES)
    async with signed_in("dora") as client:
        notes = await client.create_collection("dora-notes")
        added = await client.add_source(notes.id, folder)
        assert added.source.path == str(folder) and added.operation.type == "index"
        seen: list[EventFrame] = []
        done = await client.wait(added.operation.id, timeout=120, on_event=seen.append)
        assert done.status == "completed", done
        assert seen[-1].type == "OperationCompleted" and seen[-1].operation_id == done.id
        assert [f.seq for f in seen] == sorted({f.seq for f in seen})

        one = await client.search("how much does a seat cost", notes.id, limit=1)
        assert one.results[0].path.endswith("pricing.md") and not one.partial
        other = await client.create_collection("dora-empty")
        both = await client.search(
            "watering tomatoes", [notes.id, other.id], search_type=SearchType.SPARSE
        )
        assert both.results[0].path.endswith("garden.md")
        filtered = await client.search(
            "notes", notes.id, search_type="dense", filters={"path": str(folder / "garden.md")}
        )
        assert {hit.path for hit in filtered.results} == {str(folder / "garden.md")}
        # Pages of documents, explain and facets, as the search contract names them.
        first = await client.search("notes", notes.id, limit=1, explain=True, facets=["file_type"])
        assert first.has_more and first.facets == {"file_type": {"md": 2}}
        assert first.results[0].explain is not None and first.results[0].explain.fused
        assert isinstance(first.results[0].snippet, str) and first.results[0].snippet
        second = await client.search(
            "notes", notes.id, limit=1, offset=1, facets=["file_type"], facet_depth=10
        )
        assert (second.offset, second.has_more, second.results[0].rank) == (1, False, 2)
        assert second.results[0].document_id != first.results[0].document_id
        assert second.results[0].explain is None
        with pytest.raises(InvalidRequestError, match="unknown filter"):
            await client.search("notes", notes.id, filters={"columns[0]": "x"})

        assert [s.id for s in await client.list_sources(notes.id)] == [added.source.id]
        documents = await client.list_documents(notes.id, status="indexed")
        assert documents.total == 2
        pricing = next(d for d in documents.items if d.path.endswith("pricing.md"))
        assert pricing.id is not None
        detail = await client.get_document(notes.id, pricing.id)
        assert "twelve euros" in detail.text and detail.path == pricing.path
        assert detail.size == len(NOTES["pricing.md"].encode())

        again = await client.index(notes.id)
        rescanned = await client.wait(again.id, timeout=120)
        assert rescanned.status == "completed" and rescanned.processed == 0
        listed = await client.list_operations(notes.id)
        assert [op.id for op in listed.items[:2]] == [again.id, added.operation.id]
        assert again.id in {op.id for op in (await client.list_operations(type="index")).items}

        removed = await client.remove_source(notes.id, added.source.id)
        assert (await client.wait(removed.operation.id, timeout=120)).status == "completed"
        assert await client.list_sources(notes.id) == []
        assert (await client.get_collection(notes.id)).document_count == 0


async def test_uploads_are_indexed_one_after_the_other(signed_in: SignedIn, tmp_path: Path) -> None:
    files = write_notes(tmp_path, {"a.md": "Alpha note about comets.", "b.md": "Beta note."})
    rows = b"ticket_id,title,body\nT-1,Login fails,The login page answers 500\n"
    async with signed_in("erin") as client:
        uploads = await client.create_collection("erin-uploads")
        tickets = await client.upload(
            uploads.id,
            rows,
            filename="tickets.csv",
            text_columns=["title", "body"],
            id_column="ticket_id",
        )
        assert tickets.source.kind == "upload" and tickets.source.text_columns == ["title", "body"]
        assert (await client.wait(tickets.operation.id, timeout=120)).status == "completed"
        ended = await client.upload_files(uploads.id, [files / "a.md", files / "b.md"], timeout=120)
        assert [op.status for op in ended] == ["completed", "completed"]
        assert len(await client.list_sources(uploads.id)) == 3
        found = await client.search("comets", uploads.id, limit=1)
        assert found.results[0].path.endswith("a.md")

        # a.md again: its source's second version; with keep_versions a source of its own.
        (files / "a.md").write_text("Alpha note about asteroids.")
        (files / "c.exe").write_bytes(b"MZ not a document")
        answers = await client.upload_many(uploads.id, [files / "a.md", files / "c.exe"])
        assert answers[0].source is not None and answers[0].operation is not None
        assert [v.version for v in answers[0].source.versions] == [1, 2]
        assert answers[1].source is None and answers[1].error is not None
        assert answers[1].error.status == 400 and "unsupported" in answers[1].error.detail
        assert (await client.wait(answers[0].operation.id, timeout=120)).status == "completed"
        assert len(await client.list_sources(uploads.id)) == 3
        with pytest.raises(InvalidRequestError, match=r"c\.exe: unsupported"):
            await client.upload_files(uploads.id, [files / "c.exe"])
        kept = await client.upload_files(uploads.id, [files / "b.md"], keep_versions=True)
        assert [op.status for op in kept] == ["completed"]
        paths = sorted(s.path.rsplit("/", 1)[1] for s in await client.list_sources(uploads.id))
        assert paths == ["a.md", "b.md", "b_v2.md", "tickets.csv"]
        hit = (await client.search("login page error", uploads.id, limit=1)).results[0]
        assert hit.metadata.get("record_id") == "T-1"


async def test_a_running_index_is_cancelled(system: RunningSystem, signed_in: SignedIn) -> None:
    papers = {f"paper-{n:03}.md": f"# Paper {n}\n\nFinding {n}: sample {n * 7}." for n in range(60)}
    folder = write_notes(system.sources / "frank", papers)
    async with signed_in("frank") as client:
        shelf = await client.create_collection("frank-papers")
        started = await client.add_source(shelf.id, folder)
        busy = await client.index(shelf.id)  # waits in the collection's queue
        assert (busy.status, busy.queue_position) == ("queued", 1)
        dropped = await client.cancel(busy.id)
        assert (await client.wait(dropped.id, timeout=60)).started_at is None
        cancelled = await client.cancel(started.operation.id)
        assert cancelled.status == "cancelled"
        assert (await client.wait(cancelled.id, timeout=60)).status == "cancelled"


async def test_sync_settings_and_a_rescan_of_one_source(
    system: RunningSystem, signed_in: SignedIn
) -> None:
    folder = write_notes(system.sources / "rhea", {"plan.md": "The plan is to plant beans."})
    async with signed_in("rhea") as client:
        notes = await client.create_collection("rhea-notes")
        added = await client.add_source(notes.id, folder, sync=SourceSync(interval_minutes=600))
        assert added.source.sync == SourceSync(interval_minutes=600)
        assert (await client.wait(added.operation.id, timeout=120)).status == "completed"
        changed = await client.update_source(
            notes.id, added.source.id, sync=SourceSync(interval_minutes=900)
        )
        assert changed.operation is None and changed.source.sync.interval_minutes == 900
        (folder / "plan.md").write_text("The plan is to plant peas instead.")
        rescan = await client.rescan_source(notes.id, added.source.id)
        assert (rescan.operation.type, rescan.operation.trigger) == ("index", "user")
        done = await client.wait(rescan.operation.id, timeout=120)
        assert done.status == "completed" and done.processed == 1
        found = await client.search("peas", notes.id, limit=1)
        assert "peas" in found.results[0].snippet
