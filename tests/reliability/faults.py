"""Driving an embedded system through a fault, and checking that nothing was lost or doubled.

One scenario: a fresh collection, a generated corpus, a WebSocket client following the
collection from before the operation starts, a fault while the operation runs, then the
checks of issue 11: the operation completed, every chunk has exactly one vector, no
``Nats-Msg-Id`` twice in SEMANTIK_EVENTS, the read models equal a rebuild from the log,
and the client (which was cut off and came back with ``last_seq``) saw every event of the
collection exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import websockets
from nats.js import api
from semantik_contracts.subjects import EVENTS_STREAM
from semantik_runtime.nats_auth import SUBSCRIBER
from semantik_runtime.nats_credentials import connect_options

from semantik.nats_secrets import local_credentials
from tests.e2e.conftest import RunningSystem
from tests.e2e.test_walking_skeleton import wait_operation, write_sources

MSG_ID = "Nats-Msg-Id"
TERMINAL = ("OperationCompleted", "OperationFailed", "OperationCancelled")
# fmt: off
WORDS = ["granite", "basalt", "quartz", "feldspar", "mica", "shale", "marble", "slate",
         "obsidian", "pumice", "gneiss", "schist", "limestone", "chalk", "gypsum", "halite"]
# fmt: on


def corpus(documents: int, words: int, salt: str) -> dict[str, str]:
    """``documents`` distinct text files of ``words`` words (distinct per ``salt`` too)."""
    return {
        f"{salt}-{i:03d}.txt": f"Survey {salt} {i}. "
        + " ".join(f"{WORDS[(i * 7 + j) % len(WORDS)]}{j % 13}" for j in range(words))
        for i in range(documents)
    }


def sign_in(system: RunningSystem) -> dict[str, str]:
    """A new user's bearer header and token (``Authorization``, ``token``)."""
    body = {"username": "survivor", "password": "correct horse battery"}
    with httpx.Client(base_url=system.url, timeout=60) as http:
        assert http.post("/api/v1/auth/register", json=body).status_code == 201
        token = http.post("/api/v1/auth/login", json=body).json()["access_token"]
    return {"Authorization": f"Bearer {token}", "token": token}


async def stream_events(system: RunningSystem, subject: str) -> list[tuple[int, str, str]]:
    """``(sequence, Nats-Msg-Id, event name)`` of every message of SEMANTIK_EVENTS on
    ``subject``, read with nats-py from the system's own NATS server."""
    nc = await system_nats(system, SUBSCRIBER, connect_timeout=5, max_reconnect_attempts=20)
    try:
        js = nc.jetstream()
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.ALL,
            ack_policy=api.AckPolicy.NONE,
            inactive_threshold=30.0,
        )
        consumer = await js.pull_subscribe(subject, stream=EVENTS_STREAM, config=config)
        found: list[tuple[int, str, str]] = []
        while (await consumer.consumer_info()).num_pending:
            for msg in await consumer.fetch(500, timeout=5):
                name = json.loads(msg.data)["event"]["type"]
                found.append((msg.metadata.sequence.stream, (msg.headers or {})[MSG_ID], name))
        await consumer.unsubscribe()
        return found
    finally:
        await nc.close()


async def system_nats(system: RunningSystem, user: str, **options: Any) -> nats.NATS:
    """A connection to the system's own NATS server as ``user`` (it refuses anonymous
    clients): ``subscriber`` reads the events, ``operator`` the consumers' state."""
    url = (system.data_dir / "run" / "nats.url").read_text().strip()
    credentials = local_credentials(system.data_dir, user)
    return await nats.connect(url, **connect_options(credentials), **options)


@dataclass
class Follower:
    """A WebSocket client following one collection; it reconnects with ``last_seq``
    whenever its socket ends, and :meth:`cut` ends it on purpose."""

    url: str
    token: str
    collection_id: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    connections: int = 0
    _socket: Any = None
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        ws_url = self.url.replace("http", "ws", 1) + f"/ws?token={self.token}"
        while True:
            # From the collection's first event (last_seq 0: a new collection's whole
            # history is retained), not from a snapshot of its state: every event is
            # compared with the stream's.
            subscribe: dict[str, Any] = {
                "type": "subscribe_collection",
                "collection_id": self.collection_id,
                "last_seq": self.seen[-1]["seq"] if self.seen else 0,
            }
            try:
                async with websockets.connect(ws_url, open_timeout=5) as ws:
                    self._socket = ws
                    self.connections += 1
                    await ws.send(json.dumps(subscribe))
                    async for raw in ws:
                        message = json.loads(raw)
                        if "seq" in message:
                            self.seen.append(message)
                        elif message["type"] == "error":
                            self.errors.append(message["data"])
            except (TimeoutError, OSError, websockets.WebSocketException):
                pass  # the gateway is down or restarting: come back with last_seq
            self._socket = None
            await asyncio.sleep(0.3)

    async def cut(self, timeout: float = 60) -> None:
        """Close the socket now, and return once the client has come back with the last
        sequence it saw. Waiting for the new connection matters where the operation has
        already ended: the scenario would otherwise find its end seen, stop the client
        during its pause before reconnecting, and never test the resumption."""
        deadline = time.monotonic() + timeout
        while self._socket is None:
            assert time.monotonic() < deadline, "the live client never connected"
            await asyncio.sleep(0.1)
        before = self.connections
        with contextlib.suppress(Exception):
            await self._socket.close()
        while self.connections == before:
            assert time.monotonic() < deadline, "the live client did not reconnect"
            await asyncio.sleep(0.1)

    async def wait_for(self, operation_id: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(
                m["type"] in TERMINAL and m["data"].get("operation_id") == operation_id
                for m in self.seen
            ):
                return
            await asyncio.sleep(0.2)
        last = [(m["seq"], m["type"]) for m in self.seen[-5:]]
        raise AssertionError(
            f"the live client never saw the end of {operation_id}: {len(self.seen)} events "
            f"over {self.connections} connections, the last {last}, errors {self.errors}"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def api_views(client: httpx.AsyncClient, headers: dict[str, str], cid: str) -> list[Any]:
    """What the API answers about one collection: itself, its operations, its documents."""
    views = []
    for path in ("", "/operations?limit=500", "/sources", "/documents?limit=500"):
        response = await client.get(f"/api/v2/collections/{cid}{path}", headers=headers)
        assert response.status_code == 200, response.text
        views.append(response.json())
    return views


def rebuild_projections(system: RunningSystem) -> str:
    """``semantik projections rebuild`` as an operator runs it on this data dir."""
    semantik = str(Path(sys.executable).parent / "semantik")
    env = {**os.environ, "SEMANTIK_DATA_DIR": str(system.data_dir)}
    env.pop("NATS_URL", None)  # the system's own server, found through the data dir
    done = subprocess.run(
        [semantik, "projections", "rebuild"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


Fault = Callable[[dict[str, Any]], Awaitable[bool]]


@dataclass
class Outcome:
    operation: dict[str, Any]
    collection: dict[str, Any]
    struck: dict[str, Any]
    events: int
    reconnections: int
    seconds: float


async def survive(
    system: RunningSystem,
    client: httpx.AsyncClient,
    auth: dict[str, str],
    name: str,
    fault: Fault,
    *,
    documents: int = 48,
    words: int = 200,
) -> Outcome:
    """Index a generated corpus into a new collection while ``fault`` strikes, then check
    every promise of issue 11 part 1. ``fault`` is called with the operation as the API
    shows it until it returns True (it struck); it must strike before the operation ends."""
    began = time.monotonic()
    headers = {"Authorization": auth["Authorization"]}
    folder = write_sources(system.sources / name, corpus(documents, words, name))
    created = await client.post("/api/v2/collections", json={"name": name}, headers=headers)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    follower = Follower(system.url, auth["token"], cid)
    follower.start()
    try:
        added = await client.post(
            f"/api/v2/collections/{cid}/sources", json={"path": str(folder)}, headers=headers
        )
        assert added.status_code == 202, added.text
        op_id = added.json()["operation"]["id"]
        struck = await strike(client, headers, op_id, fault)
        await follower.cut()  # every scenario comes back with last_seq at least once
        await wait_ready(client)
        op = await wait_operation(client, headers, op_id, timeout=300)
        try:
            await follower.wait_for(op_id)
        except AssertionError as exc:
            stored = await stream_events(system, f"semantik.evt.{cid}.>")
            raise AssertionError(f"{exc}; the stream's last: {stored[-5:]}") from None
    finally:
        await follower.stop()

    assert op["status"] == "completed", op
    assert op["processed"] == op["total"] > 0, op
    assert op["stats"]["new_documents"] == documents, op
    collection = (await client.get(f"/api/v2/collections/{cid}", headers=headers)).json()
    assert collection["status"] == "ready", collection
    assert collection["document_count"] == documents, collection
    assert collection["vector_count"] == collection["chunk_count"] == op["total"], collection

    stored = await stream_events(system, "semantik.evt.>")
    doubled = [i for i, n in Counter(msg_id for _, msg_id, _ in stored).items() if n > 1]
    assert doubled == [], f"events published twice: {doubled[:5]}"
    ours = [(seq, kind) for seq, _, kind in await stream_events(system, f"semantik.evt.{cid}.>")]
    assert ("OperationCompleted" in {k for _, k in ours}) and len(ours) > 2 * documents
    live = [(m["seq"], m["type"]) for m in follower.seen]
    assert live == ours, "the live client did not see every event of the collection once"
    assert follower.connections >= 2

    before = await api_views(client, headers, cid)
    assert "the same answers as before" in rebuild_projections(system)
    after = await api_views(client, headers, cid)
    changed = [
        path
        for path, b, a in zip(
            ("", "operations", "sources", "documents"), before, after, strict=True
        )
        if a != b
    ]
    assert after == before, f"views changed by the rebuild: {changed}: {before} -> {after}"[:4000]
    seconds = round(time.monotonic() - began, 1)
    return Outcome(op, collection, struck, len(ours), follower.connections - 1, seconds)


async def wait_ready(client: httpx.AsyncClient, timeout: float = 120) -> None:
    """Until ``/health/ready`` answers 200 again: a service the supervisor restarts
    answers 503 through the gateway meanwhile (a refusal with its reason, not a 500)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            ready = await client.get("/health/ready")
            if ready.status_code == 200:
                return
            assert ready.status_code == 503, ready.text
        await asyncio.sleep(0.2)
    raise AssertionError("the system did not become ready again")


async def strike(
    client: httpx.AsyncClient, headers: dict[str, str], op_id: str, fault: Fault
) -> dict[str, Any]:
    """Poll the operation and let ``fault`` strike while it runs; the operation then."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        op = (await client.get(f"/api/v2/operations/{op_id}", headers=headers)).json()
        assert op["status"] not in ("completed", "failed", "cancelled"), (
            f"the operation ended before the fault: {op}"
        )
        if await fault(op):
            return dict(op)
        await asyncio.sleep(0.1)
    raise AssertionError(f"the fault never struck {op_id}")
