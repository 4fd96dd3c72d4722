"""Continuous sync of a path source through the whole system (SPEC §12): a watched
folder's new, changed and deleted files become searchable, replaced or gone with no one
acting; a burst of writes is one operation; a schedule re-scans; a folder that goes
away stops the watcher with a reason and it resumes when the folder is back; one
watcher per source across replicas (a lease in NATS KV)."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from ingest_service.sources.roots import SourceRoots
from ingest_service.sync.service import SyncService, build_sync_service
from semantik_runtime.bus import Bus
from semantik_runtime.metrics import FRESHNESS_SECONDS

from tests.models import TINY_MODEL
from tests.system.system import System
from tests.waiting import eventually

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]


@pytest.fixture
def system(edge: System) -> System:
    return edge


async def synced_source(
    system: System, name: str, sync: dict[str, Any], files: dict[str, str]
) -> tuple[str, dict[str, Any], Path]:
    """A collection of the tiny model with a folder of ``files`` added, indexed."""
    folder = system.sources / name
    folder.mkdir()
    for file_name, text in files.items():
        (folder / file_name).write_text(text)
    collection = await system.call(
        "POST", "/api/v2/collections", json={"name": name, "model_name": TINY_MODEL}
    )
    cid = collection["id"]
    added = await system.call(
        "POST", f"/api/v2/collections/{cid}/sources", json={"path": str(folder), "sync": sync}
    )
    assert added["source"]["sync"] == {"watch": False, "interval_minutes": None} | sync
    done = await system.operation_done(added["operation"]["id"])
    assert (done["status"], done["trigger"]) == ("completed", "user"), done
    return cid, added["source"], folder


async def found(system: System, cid: str, word: str) -> bool:
    reply = await system.call(
        "POST",
        f"/api/v2/collections/{cid}/search",
        json={"query": word, "search_type": "sparse", "limit": 5},
    )
    return any(word in hit["text"] for hit in reply["results"])


async def source_of(system: System, cid: str, source_id: str) -> dict[str, Any]:
    listed = await system.call("GET", f"/api/v2/collections/{cid}/sources")
    source: dict[str, Any] = next(s for s in listed["items"] if s["id"] == source_id)
    return source


async def operations(system: System, cid: str) -> list[dict[str, Any]]:
    page = await system.call("GET", f"/api/v2/operations?collection_id={cid}&limit=500")
    items: list[dict[str, Any]] = page["items"]
    return items


async def settled(system: System, cid: str) -> list[dict[str, Any]]:
    """The collection's operations once none runs or waits (and the watcher is quiet)."""
    await asyncio.sleep(2.5)  # the debounce's longest wait (2 s), and a little
    ops: list[dict[str, Any]] = []

    async def idle() -> bool:
        nonlocal ops
        ops = await operations(system, cid)
        return all(op["status"] in ("completed", "failed", "cancelled") for op in ops)

    await eventually(idle, timeout=60)
    return ops


async def refusals(system: System, cid: str, source: dict[str, Any]) -> None:
    """Bad sync settings are 422s naming why; a PATCH after the removal is a 404."""
    url = f"/api/v2/collections/{cid}/sources/{source['id']}"
    bad = [
        {"sync": {"watch": True, "interval_minutes": 0}},
        {"sync": {"interval_minutes": 10081}},
        {"sync": {"watch": "sometimes"}},
        {"sync": {"interval_minutes": 1.5}},
        {"sync": {"watch": True, "every": 5}},
        {},
    ]
    for body in bad:
        reply = await system.client.patch(url, json=body, headers=system.headers)
        assert reply.status_code == 422, (body, reply.text)
        assert reply.json()["detail"], body
    created = await system.client.post(
        f"/api/v2/collections/{cid}/sources",
        json={"path": str(system.sources / "other"), "sync": {"interval_minutes": -1}},
        headers=system.headers,
    )
    assert created.status_code == 422, created.text
    # A source being removed: its removal is accepted, a PATCH after it is a 404.
    await system.call("DELETE", url)
    late = await system.client.patch(url, json={"sync": {"watch": True}}, headers=system.headers)
    assert late.status_code == 404, late.text
    assert "not found" in late.text


async def test_watched_folder_new_changed_deleted_and_burst(system: System) -> None:
    cid, source, folder = await synced_source(
        system, "watched", {"watch": True}, {"intro.md": "The lighthouse keeper rows out."}
    )

    async def active() -> bool:
        return bool((await source_of(system, cid, source["id"]))["sync_status"] == "active")

    await eventually(active)
    # Watching starts with a catch-up index (what changed while no one watched).
    known = {op["id"] for op in await settled(system, cid)}
    before = FRESHNESS_SECONDS.labels("watch")._sum.get()

    (folder / "new.md").write_text("A walrus sleeps on the quay.")
    await eventually(lambda: found(system, cid, "walrus"), timeout=60)
    watch_ops = [op for op in await settled(system, cid) if op["id"] not in known]
    assert [(op["type"], op["trigger"]) for op in watch_ops] == [("index", "watch")]
    assert watch_ops[0]["requested_by"] == "system"
    assert FRESHNESS_SECONDS.labels("watch")._sum.get() > before
    synced = await source_of(system, cid, source["id"])
    assert synced["last_sync_at"] is not None and synced["next_sync_at"] is None

    (folder / "new.md").write_text("A pelican dives into the harbour.")
    await eventually(lambda: found(system, cid, "pelican"), timeout=60)
    assert not await found(system, cid, "walrus")

    (folder / "new.md").unlink()

    async def gone() -> bool:
        return not await found(system, cid, "pelican")

    await eventually(gone, timeout=60)
    assert await found(system, cid, "lighthouse")

    # A burst of 200 writes: one operation, or two when the first was running when
    # the rest came (the source's queued index takes every later change).
    known = {op["id"] for op in await settled(system, cid)}
    for n in range(200):
        (folder / f"burst{n:03d}.md").write_text(f"Burst note {n}: the zebrafish number {n}.")
    ops = [op for op in await settled(system, cid) if op["id"] not in known]
    assert 1 <= len(ops) <= 2, ops
    assert {(op["trigger"], op["status"]) for op in ops} == {("watch", "completed")}
    assert await found(system, cid, "zebrafish")

    # Watching off: a write changes nothing; on again: it is indexed.
    url = f"/api/v2/collections/{cid}/sources/{source['id']}"
    off = await system.client.patch(url, json={"sync": {"watch": False}}, headers=system.headers)
    assert off.status_code == 200, off.text
    assert (off.json()["operation"], off.json()["source"]["sync_status"]) == (None, "off")
    known = {op["id"] for op in await settled(system, cid)}
    (folder / "quiet.md").write_text("An otter cracks a clam.")
    assert [op for op in await settled(system, cid) if op["id"] not in known] == []
    assert not await found(system, cid, "otter")
    await system.call("PATCH", url, json={"sync": {"watch": True}})
    (folder / "quiet.md").write_text("An otter cracks a mussel.")
    await eventually(lambda: found(system, cid, "otter"), timeout=60)


async def test_schedule_and_a_folder_that_goes_away(system: System) -> None:
    cid, source, folder = await synced_source(
        system, "scheduled", {"interval_minutes": 5}, {"a.md": "The glacier calves."}
    )
    sync = next(s for s in system.services if isinstance(s, SyncService)).coordinator
    listed = await source_of(system, cid, source["id"])
    due = datetime.fromisoformat(listed["next_sync_at"])
    assert timedelta(minutes=4) < due - datetime.now(UTC) <= timedelta(minutes=5)

    (folder / "b.md").write_text("A narwhal surfaces.")  # not watched: found at the schedule
    await sync.tick(now=due + timedelta(seconds=1))  # the test advances the schedule
    await eventually(lambda: found(system, cid, "narwhal"), timeout=60)
    scheduled = [op for op in await settled(system, cid) if op["trigger"] == "schedule"]
    assert len(scheduled) == 1 and scheduled[0]["status"] == "completed"
    later = datetime.fromisoformat((await source_of(system, cid, source["id"]))["next_sync_at"])
    assert later > due

    # Watched too: the folder deleted, then a file in its place, then back.
    url = f"/api/v2/collections/{cid}/sources/{source['id']}"
    await system.call("PATCH", url, json={"sync": {"watch": True, "interval_minutes": 5}})

    async def status(expected: str, reason: str = "") -> None:
        async def reached() -> bool:
            now = await source_of(system, cid, source["id"])
            return now["sync_status"] == expected and reason in now["sync_reason"]

        await eventually(reached, timeout=30)

    await status("active")
    shutil.rmtree(folder)
    await status("stopped", "is gone")
    folder.write_text("not a folder")
    await status("stopped", "no longer a folder")
    folder.unlink()
    folder.mkdir()
    await status("active")
    (folder / "c.md").write_text("A puffin nests on the cliff.")
    await eventually(lambda: found(system, cid, "puffin"), timeout=60)
    assert not await found(system, cid, "narwhal")  # b.md went with the folder
    await refusals(system, cid, source)


async def test_one_watcher_per_source_across_replicas(
    system: System, private_nats_url: str
) -> None:
    cid, source, folder = await synced_source(
        system, "replicas", {"watch": True}, {"a.md": "The albatross glides."}
    )
    source_id = UUID(source["id"])
    wired = next(s for s in system.services if isinstance(s, SyncService))
    buses = [await Bus.connect(private_nats_url, "ingest") for _ in range(2)]
    roots = SourceRoots([system.sources])
    replicas = [build_sync_service(bus, roots, lease_seconds=3.0) for bus in buses]
    everyone = [wired, *replicas]
    try:
        for replica in replicas:
            await replica.coordinator.tick()

        def holders() -> list[SyncService]:
            return [s for s in everyone if source_id in s.coordinator.watchers]

        async def one_holder() -> bool:
            for replica in replicas:
                if replica in everyone:  # the living ones (the wired one ticks itself)
                    await replica.coordinator.tick()
            return len(holders()) == 1

        await eventually(one_holder)
        first = holders()[0]
        # Its holder stops (a restart): the lease is given back, another takes it over.
        await first.close()
        everyone.remove(first)
        await eventually(one_holder)
        second = holders()[0]
        assert second is not first
        # The next holder dies without a word: its lease runs out, the last one takes it.
        for watcher, task in second.coordinator.watchers.values():
            watcher.stop.set()
            await task
        second.coordinator.watchers.clear()
        second.coordinator.sources.clear()
        second.coordinator.leases.held.clear()  # it will never renew
        # Its ticking ends too: the wired service ticks on its own, and would take its
        # own name's lease back at its next tick. Holding nothing, it gives nothing back.
        await second.close()
        everyone.remove(second)
        await eventually(one_holder, timeout=30)
        (folder / "b.md").write_text("A cormorant dries its wings.")
        await eventually(lambda: found(system, cid, "cormorant"), timeout=60)
    finally:
        for replica in replicas:
            await replica.close()
        for bus in buses:
            await bus.close()
