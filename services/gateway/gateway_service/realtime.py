"""Live events for one WebSocket client (SPEC §7, §9, §14).

Client → server (JSON text frames)::

    {"type": "subscribe_collection", "collection_id": "…", "last_seq": 41}
    {"type": "subscribe_operation", "operation_id": "…"}
    {"type": "unsubscribe", "collection_id": "…"}   (or "operation_id", or "subscription")
    {"type": "ping"}

Server → client: every domain event as ``{type, seq, timestamp, subscription, data}``
(``type`` the event name, ``seq`` its JetStream sequence, ``data`` its fields), and
control messages ``subscribed``, ``snapshot``, ``unsubscribed``, ``error``
(``data.code``, ``data.message``), ``heartbeat`` and ``pong``. A subscription is named
``collection:<id>`` or ``operation:<id>``.

Each subscription is an ephemeral ordered JetStream consumer on SEMANTIK_EVENTS. With
``last_seq`` it starts at ``last_seq + 1``: a client that reconnects misses nothing. If
the stream no longer holds the events after ``last_seq`` (its retention, SPEC §14,
removed them), the subscription ends with an ``error`` of code ``resync`` instead of
skipping them silently: the client subscribes again without ``last_seq``. Without it the
client is sent the current state first, ``{type: "snapshot", seq, subscription, data}``
(``data`` as the REST API shows it: ``{collection, operations}`` with the operations
that run or wait, or ``{operation}``), and then every event after ``seq``: the stream's
last sequence, taken before the state was read, so that no event falls between the two
and no history is replayed. Frames wait in one bounded queue per client; a client that
lets it fill up is closed with 1013 instead of slowing the rest.
A socket whose access token expires, or whose session is signed out, is closed with 1008;
the client reconnects with a fresh token and ``last_seq``. So is the socket of a user who
is disabled, or of an API key that is revoked. A subscription whose collection is no
longer shared with the client (a revoke, a team left) ends with an ``error`` (code
``forbidden``) at once (``recheck``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from pydantic import ValidationError
from semantik_contracts import ErrorCode, RpcFailure
from semantik_contracts.subjects import EVENTS_STREAM

from .backend import Backend
from .config import GatewaySettings
from .principals import Principal
from .subscriptions import (
    ClientMessage,
    Followed,
    Ping,
    Target,
    Unsubscribe,
    resolve_target,
    snapshot_of,
)

log = logging.getLogger(__name__)

TRY_AGAIN_LATER = 1013
POLICY_VIOLATION = 1008
#: How often an open socket checks that its session was not signed out meanwhile.
SESSION_CHECK_SECONDS = 1.0
#: Seconds an abandoned ephemeral consumer lingers on the server.
CONSUMER_INACTIVE_SECONDS = 10.0
#: Refusals that say the collections service is not answering now, not that it said no.
_NOT_ANSWERING = (ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT)
#: The error code that tells a client its ``last_seq`` is older than the stream keeps.
RESYNC = "resync"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class FrameCache:
    """Frames of recent events: the clients following one collection or operation get
    the same frame, so it is encoded once, not per client. The key holds the message
    itself, so a stream that was recreated (sequences start again) cannot match."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._frames: OrderedDict[tuple[int, str, bytes], str | None] = OrderedDict()

    def frame(self, msg: Msg, subscription: str) -> str | None:
        key = (msg.metadata.sequence.stream, subscription, msg.data)
        if key in self._frames:
            return self._frames[key]
        frame = self._frames[key] = event_frame(msg, subscription)
        if len(self._frames) > self.capacity:
            self._frames.popitem(last=False)
        return frame


FRAMES = FrameCache()


def event_frame(msg: Msg, subscription: str) -> str | None:
    """The client's frame for one message of SEMANTIK_EVENTS, or None if it is no event."""
    try:
        envelope = json.loads(msg.data)
        event = dict(envelope["event"])
        name = event.pop("type")
    except (ValueError, KeyError, TypeError):
        return None
    frame = {
        "type": name,
        "seq": msg.metadata.sequence.stream,
        "timestamp": envelope.get("occurred_at"),
        "subscription": subscription,
        "data": event,
    }
    return json.dumps(frame)


class LiveSession:
    """One connected client: its subscriptions, its send queue, its heartbeat."""

    def __init__(
        self,
        websocket: WebSocket,
        backend: Backend,
        principal: Principal,
        settings: GatewaySettings,
        *,
        expires_at: float | None = None,
        lapsed: Callable[[], str | None] = lambda: None,
        current: Callable[[Principal], Principal] = lambda principal: principal,
    ) -> None:
        self.websocket = websocket
        self.backend = backend
        self.principal = principal
        self.actor = principal.user_id
        self.settings = settings
        #: What the subscriptions follow, to check them again when access changes.
        self.targets: dict[str, Target] = {}
        #: The principal as the account index now sees it (its teams may have changed).
        self.current = current
        self.outbox: asyncio.Queue[str] = asyncio.Queue(settings.ws_send_queue_size)
        self.overflowed = asyncio.Event()
        self.consumers: dict[str, JetStreamContext.PushSubscription] = {}
        #: When the access token that opened the socket lapses (seconds since the epoch).
        self.expires_at = expires_at
        self.lapsed = lapsed
        self.revoked: str | None = None  # why the socket's credentials stopped counting

    async def run(self) -> None:
        """Serve the client until it leaves, falls behind or its credentials lapse."""
        tasks = [
            asyncio.create_task(self._receive()),
            asyncio.create_task(self._send()),
            asyncio.create_task(self.overflowed.wait()),
            asyncio.create_task(self._credentials()),
        ]
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [*tasks, heartbeat]:
                task.cancel()
            outcomes = await asyncio.gather(*tasks, heartbeat, return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, Exception):
                    expected = isinstance(outcome, (WebSocketDisconnect, OSError, RuntimeError))
                    level = logging.DEBUG if expected else logging.WARNING
                    log.log(level, "WebSocket session ended by %r", outcome, exc_info=outcome)
            for key in list(self.consumers):
                await self._stop(key)
        if self.overflowed.is_set():
            log.info("closing a WebSocket client that fell behind (%s)", self.actor)
            with contextlib.suppress(Exception):
                await self.websocket.close(TRY_AGAIN_LATER, "too slow: send queue full")
        elif self.revoked is not None:
            with contextlib.suppress(Exception):
                await self.websocket.close(POLICY_VIOLATION, self.revoked)

    async def _credentials(self) -> None:
        """Return once the access token has expired or its session was signed out.

        The client reconnects with a fresh token and ``last_seq``, and misses nothing."""
        while True:
            left = None if self.expires_at is None else self.expires_at - time.time()
            if left is not None and left <= 0:
                self.revoked = "the access token expired; reconnect with a fresh one"
                return
            reason = self.lapsed()
            if reason is not None:
                self.revoked = reason
                return
            await asyncio.sleep(min(left, SESSION_CHECK_SECONDS) if left else SESSION_CHECK_SECONDS)

    def offer(self, frame: str) -> None:
        """Queue a frame without waiting; a full queue ends the session."""
        if self.overflowed.is_set():
            return
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed.set()

    def control(self, kind: str, subscription: str | None = None, **data: Any) -> None:
        frame: dict[str, Any] = {"type": kind, "timestamp": now_iso(), "data": data}
        if subscription is not None:
            frame["subscription"] = subscription
        self.offer(json.dumps(frame, default=str))

    async def _send(self) -> None:
        while True:
            await self.websocket.send_text(await self.outbox.get())

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.ws_heartbeat_seconds)
            self.control("heartbeat")

    async def _receive(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text") or message.get("bytes") or b""
            await self.handle(raw)

    async def handle(self, raw: str | bytes) -> None:
        try:
            request = ClientMessage.validate_json(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in exc.errors()
            )
            self.control("error", code="invalid", message=f"invalid message: {problems}")
            return
        if isinstance(request, Ping):
            self.control("pong")
        elif isinstance(request, Unsubscribe):
            key = request.key()
            await self._stop(key)
            self.control("unsubscribed", key)
        else:
            await self._subscribe(request.target(), request.last_seq)

    async def _subscribe(self, target: Target, last_seq: int | None) -> None:
        if (
            target.key not in self.consumers
            and len(self.consumers) >= self.settings.ws_max_subscriptions
        ):
            self.control("error", target.key, code="conflict", message="too many subscriptions")
            return
        try:
            # Taken before the state is read: every event after it is followed, and the
            # state read next holds every event up to it.
            stream = await self.backend.bus.js.stream_info(EVENTS_STREAM)
            followed = await self._resolve(target)
        except RpcFailure as exc:
            self.control("error", target.key, code=exc.error.code.value, message=exc.error.message)
            return
        except Exception as exc:  # the stream itself: reported, the session lives on
            log.warning("cannot read %s: %s", EVENTS_STREAM, exc)
            self.control(
                "error", target.key, code="unavailable", message="cannot follow events now"
            )
            return
        await self._stop(target.key)
        if last_seq is not None and last_seq + 1 < stream.state.first_seq:
            message = (
                f"the events after seq {last_seq} are no longer retained (the stream starts "
                f"at seq {stream.state.first_seq}): subscribe again without last_seq for "
                "the current state"
            )
            self.control("error", target.key, code=RESYNC, message=message)
            return
        self.targets[target.key] = target
        # Acknowledged before the consumer exists, so that it precedes every event frame.
        self.control("subscribed", target.key, last_seq=last_seq, **target.ids())
        after = last_seq
        if after is None:
            after = stream.state.last_seq
            if not await self._send_snapshot(target, followed, after):
                self.targets.pop(target.key, None)
                return
        try:
            self.consumers[target.key] = await self.bus_subscribe(
                followed.filter_subject, after, self._deliverer(target.key)
            )
        except Exception as exc:  # reported to the client; the session lives on
            log.warning("cannot follow %s: %s", followed.filter_subject, exc)
            self.targets.pop(target.key, None)
            self.control(
                "error", target.key, code="unavailable", message="cannot follow events now"
            )

    async def _send_snapshot(self, target: Target, followed: Followed, seq: int) -> bool:
        """Send the target's current state, as of stream sequence ``seq`` (its events
        follow); False, with the client told why, when it could not be read."""
        try:
            data = await snapshot_of(self.backend, self.principal, followed)
        except RpcFailure as exc:  # deleted or unshared since it was resolved, say
            self.control("error", target.key, code=exc.error.code.value, message=exc.error.message)
            return False
        frame = {
            "type": "snapshot",
            "seq": seq,
            "timestamp": now_iso(),
            "subscription": target.key,
            "data": data,
        }
        self.offer(json.dumps(frame, default=str))
        return True

    async def _resolve(self, target: Target) -> Followed:
        """The target's subject filter, waiting out a collections service that does not
        answer (one being restarted answers within seconds). Told ``unavailable`` at once,
        a client that subscribes again only after a reconnect (the web UI's) would follow
        nothing on an open socket, and miss an operation's end (found by issue 11's
        fault suite: collections SIGKILLed while a client reconnected)."""
        deadline = time.monotonic() + self.settings.ws_subscribe_wait_seconds
        pause = 0.2
        while True:
            try:
                return await resolve_target(self.backend, self.principal, target)
            except RpcFailure as exc:
                if exc.error.code not in _NOT_ANSWERING or time.monotonic() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    async def bus_subscribe(
        self, filter_subject: str, after: int, deliver: Callable[[Msg], Any]
    ) -> JetStreamContext.PushSubscription:
        """Follow ``filter_subject`` from the stream sequence after ``after``, by sequence:
        a policy of "new" would start wherever the stream is when the consumer is made,
        and lose what was published since ``after``."""
        config = api.ConsumerConfig(
            inactive_threshold=CONSUMER_INACTIVE_SECONDS,
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=after + 1,
        )
        return await self.backend.bus.js.subscribe(
            filter_subject,
            stream=EVENTS_STREAM,
            cb=deliver,
            ordered_consumer=True,
            config=config,
        )

    def _deliverer(self, key: str) -> Callable[[Msg], Any]:
        async def deliver(msg: Msg) -> None:
            frame = FRAMES.frame(msg, key)
            if frame is not None:
                self.offer(frame)

        return deliver

    async def recheck(self) -> None:
        """Access changed somewhere (a revoke, a team's members): end at once every
        subscription whose collection this client may no longer read."""
        self.principal = self.current(self.principal)
        for key, target in list(self.targets.items()):
            if key not in self.consumers:
                continue
            try:
                await resolve_target(self.backend, self.principal, target)
            except RpcFailure as exc:
                if exc.error.code in _NOT_ANSWERING:
                    continue  # said nothing: the next change checks again
                await self._stop(key)
                self.control("error", key, code=exc.error.code.value, message=exc.error.message)

    async def _stop(self, key: str) -> None:
        self.targets.pop(key, None)
        consumer = self.consumers.pop(key, None)
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.unsubscribe()
