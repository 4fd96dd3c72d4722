"""A gateway keeps the collections' views a search needs, and drops them when their
collections change: through itself, or through another gateway (an event)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from gateway_service.collection_views import CollectionViews
from gateway_service.http_app import create_app
from semantik_contracts.subjects import COLLECTIONS, command_subject, event_subject
from semantik_contracts.views import CollectionView
from semantik_runtime.bus import Bus

from .conftest import Stack, gateway_settings

pytestmark = pytest.mark.integration


async def test_a_search_resolves_its_collections_once_until_they_change(
    stack: Stack, tmp_path: Path, nats_url: str
) -> None:
    # A copy of every GetCollections the collections service is sent.
    asked = await stack.embedder.nc.subscribe(command_subject(COLLECTIONS, "GetCollections"))
    alice, bob = await stack.login("alice"), await stack.login("bob")
    docs = await stack.create_collection(alice, "docs")
    notes = await stack.create_collection(alice, "notes")
    both = {"query": "hybrid search", "collection_ids": [docs["id"], notes["id"]]}

    async def asking(headers: dict[str, str], body: dict[str, Any], expect: int = 200) -> int:
        """How many of three searches asked the collections service."""
        before = asked.pending_msgs
        for _ in range(3):
            assert await stack.status("POST", "/api/v2/search", headers, body) == expect
        await stack.embedder.nc.flush()  # the copies are here once the server answers
        return asked.pending_msgs - before

    # Once the events of the collections' creation are heard, searches stop asking.
    async with asyncio.timeout(10):
        while await asking(alice, both):
            pass
    assert await asking(alice, both) == 0
    targets = stack.searches[-1].targets
    assert [t.collection_id for t in targets] == [UUID(docs["id"]), UUID(notes["id"])]
    assert {t.generation for t in targets} == {docs["active_generation"]}
    # Refusals are asked for every time, whatever alice's searches left behind.
    assert await asking(bob, both, 403) == 3

    # Deleted through another gateway of the installation: this one hears the event.
    bus = await Bus.connect(nats_url, "gateway-2")
    other = create_app(gateway_settings(tmp_path, nats_url), bus)
    try:
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway-2") as two:
            deleted = await two.delete(f"/api/v2/collections/{notes['id']}", headers=alice)
            assert deleted.status_code == 204
    finally:
        other.state.context.users.close()
        await bus.close()
    found = None
    async with asyncio.timeout(10):
        while found != 404:
            found = await stack.status("POST", "/api/v2/search", alice, both)
            await asyncio.sleep(0.02)

    # Changed through this gateway: its next search sees it at once.
    one = {"query": "hybrid search", "collection_ids": [docs["id"]]}
    async with asyncio.timeout(10):
        while await asking(alice, one):
            pass
    renamed = await stack.client.patch(
        f"/api/v2/collections/{docs['id']}", json={"name": "papers"}, headers=alice
    )
    assert renamed.status_code == 200
    assert await asking(alice, one) >= 1
    assert await stack.status("DELETE", f"/api/v2/collections/{docs['id']}", alice) == 204
    assert await stack.status("POST", "/api/v2/search", alice, one) == 404


def a_view() -> CollectionView:
    now = datetime.now(UTC)
    return CollectionView.model_validate(
        {"id": uuid4(), "name": "docs", "owner": "alice", "model_name": "m",
         "model_dimension": 384, "status": "ready", "chunk_size": 256, "chunk_overlap": 25,
         "active_generation": 1, "created_at": now, "updated_at": now}
    )  # fmt: skip


async def test_views_are_kept_only_while_nothing_can_have_changed_them(nats_url: str) -> None:
    bus = await Bus.connect(nats_url, "gateway")
    views = CollectionViews(bus)
    view = a_view()
    try:
        views.keep("alice", [view], views.token())
        assert views.get("alice", [view.id]) is None  # not following events yet
        await views.follow()
        token = views.token()
        views.drop(uuid4())  # another collection changed while the answer was on its way
        views.keep("alice", [view], token)
        assert views.get("alice", [view.id]) is None
        views.keep("alice", [view], views.token())
        assert views.get("alice", [view.id]) == [view]
        assert views.get("bob", [view.id]) is None
        assert views.get("alice", [view.id, uuid4()]) is None

        # Any event of the collection drops it; events of other aggregates do not.
        other = event_subject(view.id, "operation", uuid4(), "OperationStarted")
        await bus.nc.publish(other, b"{}")
        await bus.nc.flush()
        await asyncio.sleep(0.05)
        assert views.get("alice", [view.id]) == [view]
        await bus.nc.publish(event_subject(view.id, "collection", view.id, "X"), b"{}")
        async with asyncio.timeout(5):
            while views.get("alice", [view.id]) is not None:  # noqa: ASYNC110 - until heard
                await asyncio.sleep(0.01)

        # After a reconnection, events may have been missed: nothing kept is used.
        views.keep("alice", [view], views.token())
        assert views.get("alice", [view.id]) == [view]
        bus.nc.stats["reconnects"] += 1  # what nats-py counts when it reconnects
        assert views.get("alice", [view.id]) is None
    finally:
        await views.stop()
        await bus.close()
