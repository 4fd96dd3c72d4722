"""``/ws`` over a real uvicorn server: subscribe, replay from ``last_seq``, ownership,
token checks, and a client that falls behind."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import pytest
from gateway_service import realtime
from gateway_service.backend import Backend
from gateway_service.principals import Principal
from gateway_service.realtime import FrameCache, LiveSession
from nats.aio.msg import Msg
from semantik_contracts import CollectionStatus
from semantik_contracts.commands import GetCollection, ListOperations
from semantik_contracts.subjects import COLLECTIONS, EVENTS_STREAM, command_subject
from semantik_contracts.views import CollectionView, OperationView, Page
from semantik_runtime.bus import Bus
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from semantik.client import ApiError, SemantikClient

from .conftest import Stack, gateway_settings, read_until, token

pytestmark = pytest.mark.integration


async def test_follow_a_collection_from_its_current_state_then_resume_after_last_seq(
    stack: Stack, ws_url: str
) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    url = f"/api/v2/collections/{docs['id']}"
    assert (await stack.client.patch(url, json={"name": "notes"}, headers=alice)).is_success
    async with connect(f"{ws_url}?token={token(alice)}") as ws:
        await ws.send(json.dumps({"type": "subscribe_collection", "collection_id": docs["id"]}))
        start = await read_until(ws, lambda f: f["type"] == "snapshot")
        assert [f["type"] for f in start] == ["subscribed", "snapshot"]
        assert start[0]["subscription"] == f"collection:{docs['id']}"
        snapshot = start[1]
        # The state as the REST API shows it, with none of the history that made it.
        assert snapshot["subscription"] == f"collection:{docs['id']}" and snapshot["timestamp"]
        shown = (await stack.client.get(url, headers=alice)).json()
        assert snapshot["data"] == {"collection": shown, "operations": []}
        assert snapshot["data"]["collection"]["name"] == "notes"
        assert snapshot["seq"] >= 3  # created, generation created, updated: all before it

        assert (await stack.client.patch(url, json={"name": "handbook"}, headers=alice)).is_success
        live = await read_until(ws, lambda f: f["data"].get("name") == "handbook")
        # Nothing at or before the snapshot's seq: no creation. The rename to "notes" may
        # come again, when its relay had not published it yet as the seq was taken.
        assert {f["type"] for f in live} == {"CollectionUpdated"}
        assert all(f["seq"] > snapshot["seq"] for f in live)
        updated = live[-1]

    # Missed while away: only what came after last_seq, then live events again.
    await stack.client.patch(url, json={"name": "manual"}, headers=alice)
    async with connect(ws_url, subprotocols=[f"access_token.{token(alice)}"]) as ws:  # type: ignore[list-item]
        since = {"collection_id": docs["id"], "last_seq": updated["seq"]}
        await ws.send(json.dumps({"type": "subscribe_collection", **since}))
        frames = await read_until(ws, lambda f: f["type"] == "CollectionUpdated")
        assert [f["type"] for f in frames] == ["subscribed", "CollectionUpdated"]
        assert frames[1]["data"]["name"] == "manual" and frames[1]["seq"] > updated["seq"]
        await stack.client.patch(url, json={"description": "live again"}, headers=alice)
        again = await read_until(ws, lambda f: f["type"] == "CollectionUpdated")
        assert again[-1]["data"]["description"] == "live again"

    # last_seq 0 still replays the whole retained history, from its creation.
    async with connect(f"{ws_url}?token={token(alice)}") as ws:
        since = {"collection_id": docs["id"], "last_seq": 0}
        await ws.send(json.dumps({"type": "subscribe_collection", **since}))
        history = await read_until(ws, lambda f: f["data"].get("description") == "live again")
    assert history[0]["type"] == "subscribed" and history[1]["type"] == "CollectionCreated"
    assert [f["data"]["name"] for f in history if f["type"] == "CollectionUpdated"][:3] == [
        "notes",
        "handbook",
        "manual",
    ]


async def test_a_snapshot_shows_the_operations_under_way_and_no_event_is_lost_after_it(
    stack: Stack, ws_url: str
) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    added = await stack.client.post(
        f"/api/v2/collections/{docs['id']}/sources",
        json={"path": str(stack.sources / "a")},
        headers=alice,
    )
    op_id = added.json()["operation"]["id"]
    async with connect(f"{ws_url}?token={token(alice)}") as ws:
        subscribe = {"type": "subscribe_collection", "collection_id": docs["id"]}
        await ws.send(json.dumps(subscribe))
        # The cancel races the subscription: its events come after the snapshot's seq
        # (and are sent), or the snapshot shows the operation cancelled already.
        await stack.client.post(f"/api/v2/operations/{op_id}/cancel", headers=alice)
        [_, snapshot] = await read_until(ws, lambda f: f["type"] == "snapshot")
        shown = {op["id"]: op for op in snapshot["data"]["operations"]}
        if op_id in shown:
            ended = await read_until(ws, lambda f: f["type"] == "OperationCancelled")
            assert all(f["seq"] > snapshot["seq"] for f in ended)
            assert "OperationRequested" not in [f["type"] for f in ended]
        else:
            listed = await stack.client.get(f"/api/v2/operations/{op_id}", headers=alice)
            assert listed.json()["status"] == "cancelled"


async def test_follow_an_operation(stack: Stack, ws_url: str) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    added = await stack.client.post(
        f"/api/v2/collections/{docs['id']}/sources",
        json={"path": str(stack.sources / "a")},
        headers=alice,
    )
    op_id = added.json()["operation"]["id"]
    async with connect(f"{ws_url}?token={token(alice)}") as ws:
        await ws.send(json.dumps({"type": "subscribe_operation", "operation_id": op_id}))
        frames = await read_until(ws, lambda f: f["type"] == "snapshot")
        assert frames[0]["type"] == "subscribed"
        assert frames[0]["subscription"] == f"operation:{op_id}"
        operation = frames[1]["data"]["operation"]
        assert operation["id"] == op_id and operation["status"] in ("pending", "processing")
        await stack.client.post(f"/api/v2/operations/{op_id}/cancel", headers=alice)
        ended = await read_until(ws, lambda f: f["type"] == "OperationCancelled")
        assert ended[-1]["data"]["operation_id"] == op_id
        # Only this operation's own events: nothing of the collection in between.
        assert all(f["data"].get("operation_id") == op_id for f in ended)
        assert all(f["seq"] > frames[1]["seq"] for f in ended)


async def test_a_last_seq_older_than_the_stream_keeps_asks_the_client_to_resync(
    stack: Stack, ws_url: str
) -> None:
    """The stream's retention removed what came after ``last_seq``: the client is told
    so (code ``resync``), never given the rest as if nothing were missing."""
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    url = f"/api/v2/collections/{docs['id']}"
    for name in ("one", "two"):
        assert (await stack.client.patch(url, json={"name": name}, headers=alice)).is_success
    await stack.bus.js.purge_stream(EVENTS_STREAM, keep=1)  # as an age limit would
    first = (await stack.bus.js.stream_info(EVENTS_STREAM)).state.first_seq
    assert first > 1
    async with connect(f"{ws_url}?token={token(alice)}") as ws:
        stale = {"type": "subscribe_collection", "collection_id": docs["id"], "last_seq": 0}
        await ws.send(json.dumps(stale))
        [refused] = await read_until(ws, lambda f: f["type"] == "error")
        assert refused["subscription"] == f"collection:{docs['id']}"
        assert refused["data"]["code"] == "resync"
        assert f"starts at seq {first}" in refused["data"]["message"]
        # Resumed from the first sequence kept, or without last_seq: followed again.
        await ws.send(json.dumps({**stale, "last_seq": first - 1}))
        await read_until(ws, lambda f: f["type"] == "subscribed")
        await ws.send(json.dumps({"type": "subscribe_collection", "collection_id": docs["id"]}))
        snapshot = (await read_until(ws, lambda f: f["type"] == "snapshot"))[-1]
        assert snapshot["data"]["collection"]["name"] == "two"

    # The Python client does so on its own: a stale last_seq goes on from a snapshot.
    base = ws_url.removesuffix("/ws").replace("ws://", "http://", 1)
    async with SemantikClient(base) as client:
        await client.login("alice", "correct horse")
        events = client.events(collection_id=docs["id"], last_seq=0)
        async with asyncio.timeout(10):
            resumed = await anext(events)
        await events.aclose()
    assert resumed.is_snapshot and resumed.data["collection"]["name"] == "two"


@pytest.mark.reliability
async def test_someone_elses_collection_is_refused_and_the_socket_stays(
    stack: Stack, ws_url: str
) -> None:
    alice, bob = await stack.login("alice"), await stack.login("bob")
    docs = await stack.create_collection(alice, "docs")
    async with connect(f"{ws_url}?token={token(bob)}") as ws:
        await ws.send(json.dumps({"type": "subscribe_collection", "collection_id": docs["id"]}))
        [refused] = await read_until(ws, lambda f: f["type"] == "error")
        assert refused["data"]["code"] == "forbidden"
        await ws.send(json.dumps({"type": "subscribe_collection", "collection_id": "nope"}))
        [invalid] = await read_until(ws, lambda f: f["type"] == "error")
        assert invalid["data"]["code"] == "invalid"
        unknown = {"type": "subscribe_collection", "collection_id": str(uuid4())}
        await ws.send(json.dumps(unknown))
        [missing] = await read_until(ws, lambda f: f["type"] == "error")
        assert missing["data"]["code"] == "not_found"
        assert "collection_id" in invalid["data"]["message"]
        await ws.send("not json")
        await read_until(ws, lambda f: f["type"] == "error")
        await ws.send(json.dumps({"type": "ping"}))
        await read_until(ws, lambda f: f["type"] == "pong")
        # bob's own collection works on the same socket
        mine = await stack.create_collection(bob, "mine")
        await ws.send(json.dumps({"type": "subscribe_collection", "collection_id": mine["id"]}))
        await read_until(ws, lambda f: f["type"] == "snapshot")
        await ws.send(json.dumps({"type": "unsubscribe", "collection_id": mine["id"]}))
        await read_until(ws, lambda f: f["type"] == "unsubscribed")


@pytest.mark.parametrize("credential", ["", "?token=garbage"])
@pytest.mark.reliability
async def test_a_missing_or_bad_token_is_closed_with_1008(
    stack: Stack, ws_url: str, credential: str
) -> None:
    async with connect(ws_url + credential) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


class StalledClient:
    """The server side of a client that stopped reading: no send ever completes."""

    def __init__(self) -> None:
        self.close_code: int | None = None

    async def send_text(self, text: str) -> None:
        await asyncio.Event().wait()

    async def receive(self) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self, code: int, reason: str) -> None:
        self.close_code = code


async def test_a_client_that_falls_behind_is_closed_with_1013(stack: Stack) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    context = stack.app.state.context
    settings = context.settings.model_copy(update={"ws_send_queue_size": 2})
    client = StalledClient()
    session = LiveSession(client, context.backend, Principal(docs["owner"], "alice"), settings)  # type: ignore[arg-type]
    running = asyncio.create_task(session.run())
    # "subscribed" plus the collection's history (created, generation created and
    # activated), replayed from its start, is more than one frame in flight and two queued.
    replay = {"type": "subscribe_collection", "collection_id": docs["id"], "last_seq": 0}
    await session.handle(json.dumps(replay))
    async with asyncio.timeout(10):
        await running
    assert client.close_code == 1013
    assert session.consumers == {}


async def test_an_idle_socket_gets_heartbeats(stack: Stack, ws_url: str) -> None:
    alice = await stack.login("alice")
    context = stack.app.state.context
    context.settings = context.settings.model_copy(update={"ws_heartbeat_seconds": 0.05})
    async with connect(f"{ws_url}?token={token(alice)}") as ws:
        async with asyncio.timeout(5):
            beats = [json.loads(await ws.recv()) for _ in range(2)]
    assert [beat["type"] for beat in beats] == ["heartbeat", "heartbeat"]
    assert all(beat["timestamp"] for beat in beats)


@pytest.mark.reliability
async def test_a_signed_out_sessions_token_opens_no_socket(stack: Stack, ws_url: str) -> None:
    account = {"username": "dora", "password": "correct horse"}
    await stack.client.post("/api/v1/auth/register", json=account)
    pair = (await stack.client.post("/api/v1/auth/login", json=account)).json()
    logout = {"refresh_token": pair["refresh_token"]}
    assert (await stack.client.post("/api/v1/auth/logout", json=logout)).status_code == 204
    async with connect(f"{ws_url}?token={pair['access_token']}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert "signed out" in closed.value.rcvd.reason


async def closed_by_server(ws: ClientConnection) -> tuple[int, str]:
    """Read until the server closes the socket; its close code and reason."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


@pytest.mark.reliability
async def test_an_open_socket_is_closed_when_its_session_is_signed_out(
    stack: Stack, ws_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(realtime, "SESSION_CHECK_SECONDS", 0.05)
    account = {"username": "erin", "password": "correct horse"}
    await stack.client.post("/api/v1/auth/register", json=account)
    pair = (await stack.client.post("/api/v1/auth/login", json=account)).json()
    async with connect(f"{ws_url}?token={pair['access_token']}") as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["type"] == "pong"  # open and served
        logout = {"refresh_token": pair["refresh_token"]}
        assert (await stack.client.post("/api/v1/auth/logout", json=logout)).status_code == 204
        assert await closed_by_server(ws) == (1008, "this session has ended (signed out)")


class SessionClock:
    """The clock an open socket checks its token's expiry by (``realtime.time``), set
    ``ahead`` of the real one: the test moves it past an expiry instead of waiting."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def time(self) -> float:
        return time.time() + self.ahead

    def monotonic(self) -> float:
        return time.monotonic()


@pytest.mark.reliability
async def test_an_open_socket_is_closed_when_its_token_expires(
    stack: Stack, ws_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SessionClock()
    monkeypatch.setattr(realtime, "time", clock)
    monkeypatch.setattr(realtime, "SESSION_CHECK_SECONDS", 0.05)
    alice = await stack.login("alice")
    context = stack.app.state.context
    # Long enough to open the socket on a loaded machine (a token's expiry is in whole
    # seconds, so a 1 s token could lapse before the handshake); the socket's clock,
    # not the test, then passes it.
    context.tokens.access_ttl = timedelta(seconds=3)
    short = await stack.login("alice")
    async with connect(f"{ws_url}?token={token(short)}") as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["type"] == "pong"
        clock.ahead = 4.0  # past the short token's expiry
        code, reason = await closed_by_server(ws)
    assert code == 1008 and "expired" in reason
    # A token of the usual lifetime keeps its socket open past that moment.
    async with connect(f"{ws_url}?token={token(alice)}") as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["type"] == "pong"


def _event_msg(seq: int, name: str) -> Msg:
    envelope = {"occurred_at": "2026-01-01T00:00:00Z", "event": {"type": "X", "name": name}}
    reply = f"$JS.ACK.SEMANTIK_EVENTS.c.1.{seq}.{seq}.1700000000000000000.0"
    return Msg(cast(Any, None), subject="s", reply=reply, data=json.dumps(envelope).encode())


def test_frames_are_shared_by_subscribers_but_never_across_streams() -> None:
    cache = FrameCache(capacity=2)
    first = cache.frame(_event_msg(5, "a"), "collection:1")
    assert cache.frame(_event_msg(5, "a"), "collection:1") is first  # encoded once
    again = cache.frame(_event_msg(5, "b"), "collection:1")  # a recreated stream's seq 5
    assert again is not None and json.loads(again)["data"]["name"] == "b"
    other = cache.frame(_event_msg(5, "a"), "operation:2")
    assert other is not None and json.loads(other)["subscription"] == "operation:2"
    assert json.loads(first or "")["seq"] == 5


async def test_a_stalled_client_does_not_hold_up_the_others(stack: Stack, ws_url: str) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    url = f"/api/v2/collections/{docs['id']}"
    context = stack.app.state.context
    settings = context.settings.model_copy(update={"ws_send_queue_size": 3})
    stalled = StalledClient()
    session = LiveSession(stalled, context.backend, Principal(docs["owner"], "alice"), settings)  # type: ignore[arg-type]
    running = asyncio.create_task(session.run())
    subscribe = json.dumps({"type": "subscribe_collection", "collection_id": docs["id"]})
    async with connect(f"{ws_url}?token={token(alice)}") as ws:
        await ws.send(subscribe)
        await session.handle(subscribe)
        await read_until(ws, lambda f: f["type"] == "snapshot")
        for n in range(5):
            await stack.client.patch(url, json={"description": f"v{n}"}, headers=alice)
        frames = await read_until(ws, lambda f: f["data"].get("description") == "v4")
        assert [f["data"]["description"] for f in frames if f["type"] == "CollectionUpdated"] == [
            f"v{n}" for n in range(5)
        ]
    async with asyncio.timeout(10):
        await running
    assert stalled.close_code == 1013


async def test_the_cli_client_follows_on_past_an_expired_token_missing_nothing(
    stack: Stack, ws_url: str
) -> None:
    context = stack.app.state.context
    context.tokens.access_ttl = timedelta(seconds=2)
    base = ws_url.removesuffix("/ws").replace("ws://", "http://", 1)
    async with SemantikClient(base) as client:
        await client.login("frank", "correct horse", register=True)
        docs = await client.call("POST", "/api/v2/collections", json={"name": "docs"})
        first_token = client.token
        seen: list[dict[str, Any]] = []
        subscribe = {"type": "subscribe_collection", "collection_id": docs["id"]}
        async with asyncio.timeout(30):
            async for message in client.events(subscribe):
                if "seq" in message:
                    seen.append(message)
                if client.token != first_token and not any(
                    m["type"] == "CollectionUpdated" for m in seen
                ):  # reconnected with a fresh token: change something now
                    body = {"description": "after the token expired"}
                    await client.call("PATCH", f"/api/v2/collections/{docs['id']}", json=body)
                if any(m["type"] == "CollectionUpdated" for m in seen):
                    break
    seqs = [m["seq"] for m in seen]
    assert seqs == sorted(set(seqs))  # every event once, in order, across the reconnect
    assert seen[0]["type"] == "snapshot" and seen[-1]["type"] == "CollectionUpdated"


async def test_the_cli_client_renews_a_lapsed_access_token_and_asks_again(
    stack: Stack, ws_url: str
) -> None:
    stack.app.state.context.tokens.access_ttl = timedelta(seconds=2)
    base = ws_url.removesuffix("/ws").replace("ws://", "http://", 1)
    async with SemantikClient(base) as client:
        await client.login("gina", "correct horse", register=True)
        lapsed = client.token
        headers = {"Authorization": f"Bearer {lapsed}"}
        async with asyncio.timeout(30):  # until the gateway refuses the access token
            while True:
                if (await client.http.get("/api/v2/collections", headers=headers)).is_error:
                    break
                await asyncio.sleep(0.2)
        page = await client.call("GET", "/api/v2/collections")
        assert page["total"] == 0 and client.token != lapsed

        client.token, client.refresh_token = lapsed, "not a refresh token"
        with pytest.raises(ApiError) as refused:
            await client.call("GET", "/api/v2/collections")
        assert refused.value.status == 401


async def test_a_subscription_waits_for_a_collections_service_being_restarted(
    nats_url: str, tmp_path: Path
) -> None:
    """The collections service decides who may follow what; while it is down the
    subscription waits for it (up to WS_SUBSCRIBE_WAIT_SECONDS) instead of answering
    ``unavailable`` on a socket the client keeps open and following nothing."""
    bus = await Bus.connect(nats_url, "gateway")
    await bus.ensure_streams()
    settings = gateway_settings(tmp_path, nats_url).model_copy(
        update={"ws_subscribe_wait_seconds": 1.0}
    )
    session = LiveSession(
        StalledClient(), Backend(bus, settings), Principal("alice", "alice"), settings
    )  # type: ignore[arg-type]
    now = datetime.now(UTC)
    view = CollectionView(
        id=uuid4(), name="docs", owner="alice", model_name="m", model_dimension=3,
        status=CollectionStatus.READY, chunk_size=32, chunk_overlap=0, created_at=now,
        updated_at=now,
    )  # fmt: skip
    subscribe = json.dumps({"type": "subscribe_collection", "collection_id": str(view.id)})
    try:
        await session.handle(subscribe)  # nobody answers within the wait: told so
        refused = json.loads(session.outbox.get_nowait())
        assert (refused["type"], refused["data"]["code"]) == ("error", "unavailable")

        async def restarted() -> None:  # the service is back half a second later
            await asyncio.sleep(0.5)

            async def answer(query: GetCollection) -> CollectionView:
                return view

            async def no_operations(query: ListOperations) -> Page[OperationView]:
                return Page[OperationView](items=[], total=0, limit=query.limit, offset=0)

            subject = command_subject(COLLECTIONS, "GetCollection")
            await bus.serve(subject, GetCollection, answer, queue="collections")
            listing = command_subject(COLLECTIONS, "ListOperations")
            await bus.serve(listing, ListOperations, no_operations, queue="collections")

        async with asyncio.TaskGroup() as group:
            group.create_task(restarted())
            group.create_task(session.handle(subscribe))
        followed = json.loads(session.outbox.get_nowait())
        assert followed["type"] == "subscribed", followed
        assert followed["subscription"] == f"collection:{view.id}"
        snapshot = json.loads(session.outbox.get_nowait())
        assert snapshot["type"] == "snapshot", snapshot
        assert snapshot["data"]["collection"]["id"] == str(view.id)
    finally:
        for key in list(session.consumers):
            await session.consumers.pop(key).unsubscribe()
        await bus.close()
