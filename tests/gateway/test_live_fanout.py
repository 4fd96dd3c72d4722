"""200 WebSocket clients follow one operation: every client receives every event of
it, in stream order, the history first and then the live events."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from uuid import UUID

import pytest
from semantik_contracts import EventEnvelope, OperationStatus
from semantik_contracts.events import OperationProgressed
from websockets.asyncio.client import ClientConnection, connect

from .conftest import Frame, Stack, token

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)

CLIENTS = 200
PROGRESS_EVENTS = 25


async def follow(ws: ClientConnection, operation: str, ready: asyncio.Event) -> list[Frame]:
    """Subscribe, then collect the snapshot and the event frames until the operation's
    end."""
    await ws.send(json.dumps({"type": "subscribe_operation", "operation_id": operation}))
    frames: list[Frame] = []
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] in ("subscribed", "heartbeat"):
            continue
        frames.append(frame)
        if frame["type"] == "snapshot":
            ready.set()
        if frame["type"] == "OperationCancelled":
            return frames


async def test_two_hundred_clients_each_receive_every_event_in_order(
    stack: Stack, ws_url: str
) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    added = await stack.client.post(
        f"/api/v2/collections/{docs['id']}/sources",
        json={"path": str(stack.sources / "a")},
        headers=alice,
    )
    operation = added.json()["operation"]["id"]
    url = f"{ws_url}?token={token(alice)}"
    sockets = await asyncio.gather(*(connect(url) for _ in range(CLIENTS)))
    try:
        ready = [asyncio.Event() for _ in sockets]
        followers = [
            asyncio.create_task(follow(ws, operation, seen))
            for ws, seen in zip(sockets, ready, strict=True)
        ]
        async with asyncio.timeout(60):
            await asyncio.gather(*(seen.wait() for seen in ready))  # each one's snapshot
        started = time.perf_counter()
        # Live: progress as the process manager publishes it, then a cancel by the user.
        for n in range(1, PROGRESS_EVENTS + 1):
            progressed = OperationProgressed(
                collection_id=UUID(docs["id"]),
                operation_id=UUID(operation),
                status=OperationStatus.PROCESSING,
                progress=n / PROGRESS_EVENTS,
                processed=n,
                total=PROGRESS_EVENTS,
            )
            await stack.bus.publish_event(
                EventEnvelope(
                    event_id=f"{operation}:progress-{n}",
                    aggregate_type="operation",
                    aggregate_id=UUID(operation),
                    version=1000 + n,
                    occurred_at=datetime.now(UTC),
                    event=progressed,
                )
            )
        cancel = await stack.client.post(f"/api/v2/operations/{operation}/cancel", headers=alice)
        assert cancel.status_code == 200, cancel.text
        async with asyncio.timeout(60):
            received = await asyncio.gather(*followers)
        log.info(
            "%d clients got %d events each in %.2f s",
            CLIENTS,
            len(received[0]),
            time.perf_counter() - started,
        )
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    # Every client starts from a snapshot; what came after the last of them, every
    # client gets, in the same order.
    assert all(frames[0]["type"] == "snapshot" for frames in received)
    since = max(frames[0]["seq"] for frames in received)
    received = [[f for f in frames[1:] if f["seq"] > since] for frames in received]
    expected = received[0]
    kinds = [frame["type"] for frame in expected]
    assert kinds[0] == "OperationProgressed" and kinds[-1] == "OperationCancelled"
    assert [f["data"]["processed"] for f in expected if f["type"] == "OperationProgressed"] == (
        list(range(1, PROGRESS_EVENTS + 1))
    )
    seqs = [frame["seq"] for frame in expected]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for events in received:
        assert [frame["seq"] for frame in events] == seqs
