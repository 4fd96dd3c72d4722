"""Webhook delivery: each active webhook follows SEMANTIK_EVENTS through a durable
consumer of its own and POSTs the events it wants, signed (Standard Webhooks).

Every gateway process runs a ``WebhookDeliverer``. It reconciles its tasks with the
active webhooks every ``RECONCILE_SECONDS`` and whenever told of a change: one task per
webhook, pulling from the durable pull consumer ``webhook-<id>`` (created at the first
reconcile, starting at the webhook's creation time). The consumer admits one
unacknowledged message (``max_ack_pending=1``), so however many replicas pull from it,
one event is in flight: events arrive in stream order, per collection and overall.

For each event: not wanted → acknowledged; its collection not readable by the owner now
(revoked, deleted, owner disabled) → acknowledged and logged ``skipped``; else POSTed.
A 2xx answer acknowledges it (``delivered``); any other outcome (status, timeout, refused
address) naks it with a delay, exponential backoff with full jitter over its delivery
count, so JetStream delivers it again, after a restart too (``retrying``). A webhook
failing for longer than ``webhook_disable_after_hours`` is deactivated and its event
logged ``failed``; the event stays unacknowledged, so re-activating resumes there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import api
from pydantic import ValidationError
from semantik_contracts import EventEnvelope, RpcFailure
from semantik_contracts.subjects import (
    ACCOUNTS_CHANGED,
    EVENTS_STREAM,
    EVENTS_SUBJECTS,
    WEBHOOK_CONSUMER_PREFIX,
    event_filter,
    webhook_consumer_name,
)
from semantik_runtime.bus import Bus
from standardwebhooks import Webhook

from .account_index import AccountIndex
from .config import GatewaySettings
from .webhook_access import OwnerAccess
from .webhook_guard import UnsafeUrl, guarded_client
from .webhook_log import Delivery, DeliveryLog
from .webhooks import DELIVERED_EVERY, Webhooks, WebhookView

log = logging.getLogger(__name__)

#: Seconds between reconciles of the running tasks with the active webhooks.
RECONCILE_SECONDS = 2.0
#: Seconds between sweeps for consumers whose webhook was deleted.
SWEEP_SECONDS = 30.0
#: How long a pull waits for an event before asking again.
FETCH_SECONDS = 5.0
#: Most filter subjects one consumer gets; beyond, it filters on collections only.
MAX_FILTERS = 64
USER_AGENT = "Semantik-Webhooks/1"


def backoff(attempts: int, base: float, cap: float) -> float:
    """Full jitter: uniform in [0, min(cap, base · 2^(attempts-1))]."""
    ceiling = min(cap, base * 2 ** min(max(attempts - 1, 0), 32))
    return random.uniform(0, ceiling)


def consumer_filters(view: WebhookView) -> list[str]:
    """The consumer's subject filters: the webhook's collections and event names, so the
    server skips what the webhook never wants."""
    collections = view.collection_ids
    events = None if "*" in view.events else sorted(view.events)
    if collections is None and events is None:
        return [EVENTS_SUBJECTS]
    if collections is not None and events is not None:
        if len(collections) * len(events) <= MAX_FILTERS:
            return [
                event_filter(collection_id=c, event_type=e) for c in collections for e in events
            ]
        events = None
    if collections is not None:
        return [f"semantik.evt.{c}.>" for c in collections]
    assert events is not None
    return [event_filter(event_type=e) for e in events]


def payload(envelope: EventEnvelope) -> str:
    """The delivery's body: ``{id, type, timestamp, collection_id, data}``."""
    data = envelope.event.model_dump(mode="json", exclude={"type"})
    data.pop("collection_id", None)
    body = {
        "id": envelope.event_id,
        "type": envelope.type,
        "timestamp": envelope.occurred_at.isoformat(),
        "collection_id": str(envelope.collection_id) if envelope.collection_id else None,
        "data": data,
    }
    return json.dumps(body, separators=(",", ":"))


class WebhookDeliverer:
    def __init__(
        self, bus: Bus, webhooks: Webhooks, index: AccountIndex, settings: GatewaySettings
    ) -> None:
        self.bus = bus
        self.webhooks = webhooks
        self.settings = settings
        self.log = DeliveryLog(bus)
        self.access = OwnerAccess(bus, index, settings.request_timeout_seconds)
        self._running: dict[UUID, asyncio.Task[None]] = {}
        self._changed = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._swept = 0.0
        self._listener: Callable[[], None] = self.changed

    async def start(self) -> None:
        self._client = guarded_client(
            allow_private=self.settings.webhook_allow_private,
            timeout=self.settings.webhook_timeout_seconds,
        )

        async def heard(_: Msg) -> None:
            self.access.forget()
            self.changed()

        for subject in (ACCOUNTS_CHANGED, event_filter(event_type="AccessRevoked")):
            await self.bus.nc.subscribe(subject, cb=heard)
        loop = asyncio.get_running_loop()

        def told() -> None:  # on whichever thread folded the change
            with contextlib.suppress(RuntimeError):  # the loop is closed: stopped
                loop.call_soon_threadsafe(self.changed)

        self._listener = told
        self.webhooks.add_listener(told)
        self._loop_task = asyncio.create_task(self._reconcile_forever())

    def changed(self) -> None:
        """Reconcile now: a webhook was created, changed or deleted (here or elsewhere)."""
        self._changed.set()

    async def deliveries(self, webhook_id: UUID, limit: int) -> list[Delivery]:
        return await self.log.deliveries(webhook_id, limit)

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._running.clear()
        self.webhooks.remove_listener(self._listener)
        if self._client is not None:
            await self._client.aclose()

    # -- reconciling ---------------------------------------------------------------
    async def _reconcile_forever(self) -> None:
        while True:
            self._changed.clear()
            try:
                await self._reconcile()
            except Exception:
                log.exception("webhook reconcile failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), RECONCILE_SECONDS)

    async def _reconcile(self) -> None:
        active = {view.id: view for view in await asyncio.to_thread(self.webhooks.active)}
        for webhook_id, task in list(self._running.items()):
            if webhook_id in active and not task.done():
                continue
            del self._running[webhook_id]
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("webhook %s: delivery stopped: %r", webhook_id, task.exception())
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            if webhook_id not in self.webhooks.index.views:  # deleted
                await self._delete_consumer(webhook_id)
        for webhook_id, view in active.items():
            if webhook_id not in self._running:
                await self._ensure_consumer(view)
                self._running[webhook_id] = asyncio.create_task(self._follow(webhook_id))
        if time.monotonic() - self._swept > SWEEP_SECONDS:
            self._swept = time.monotonic()
            await self._sweep()

    async def _ensure_consumer(self, view: WebhookView) -> None:
        filters = consumer_filters(view)
        config = api.ConsumerConfig(
            durable_name=webhook_consumer_name(view.id),
            description=f"Deliveries of webhook {view.id}",
            deliver_policy=api.DeliverPolicy.BY_START_TIME,
            opt_start_time=view.created_at.astimezone(UTC),
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait(),
            max_ack_pending=1,
            filter_subject=filters[0] if len(filters) == 1 else None,
            filter_subjects=filters if len(filters) > 1 else None,
        )
        try:
            await self.bus.js.consumer_info(EVENTS_STREAM, webhook_consumer_name(view.id))
        except nats.js.errors.NotFoundError:
            await self.bus.js.add_consumer(EVENTS_STREAM, config)

    def _ack_wait(self) -> float:
        """Longer than one step of a delivery (the access check, then the POST, each
        announced with ``in_progress``), short enough that the event a killed gateway
        held is soon delivered again."""
        settings = self.settings
        return max(settings.webhook_timeout_seconds, settings.request_timeout_seconds) + 5

    async def _delete_consumer(self, webhook_id: UUID) -> None:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await self.bus.js.delete_consumer(EVENTS_STREAM, webhook_consumer_name(webhook_id))

    async def _sweep(self) -> None:
        """Delete the consumers of webhooks deleted while no gateway ran."""
        for info in await self.bus.js.consumers_info(EVENTS_STREAM):
            name = info.name or ""
            if not name.startswith(WEBHOOK_CONSUMER_PREFIX):
                continue
            try:
                webhook_id = UUID(name.removeprefix(WEBHOOK_CONSUMER_PREFIX))
            except ValueError:
                continue
            if webhook_id not in self.webhooks.index.views:
                await self._delete_consumer(webhook_id)

    # -- delivering ----------------------------------------------------------------
    async def _follow(self, webhook_id: UUID) -> None:
        name = webhook_consumer_name(webhook_id)
        sub = await self.bus.js.pull_subscribe_bind(name, stream=EVENTS_STREAM)
        try:
            while True:
                try:
                    messages = await sub.fetch(1, timeout=FETCH_SECONDS)
                except nats.errors.TimeoutError:
                    continue
                for msg in messages:
                    if not await self._handle(webhook_id, msg):
                        return
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _handle(self, webhook_id: UUID, msg: Msg) -> bool:
        """Deliver one event; False when the webhook stops (inactive, deleted)."""
        view = self.webhooks.index.views.get(webhook_id)  # current: the reconciles catch up
        if view is None or not view.active:
            await msg.nak(delay=RECONCILE_SECONDS)  # for whoever follows it once active
            return False
        try:
            envelope = EventEnvelope.model_validate_json(msg.data)
        except ValidationError:
            log.warning("webhook %s: not an event at sequence %s", webhook_id, _seq(msg))
            await msg.ack()
            return True
        collection_id = envelope.collection_id
        if collection_id is None or not view.wants(envelope.type, collection_id):
            await msg.ack()
            return True
        attempts = msg.metadata.num_delivered or 1
        entry = Delivery(
            event_id=envelope.event_id,
            event_type=envelope.type,
            collection_id=collection_id,
            status="pending",
            attempts=attempts,
        )
        try:
            readable = await self.access.may_read(view.owner_id, collection_id)
        except RpcFailure as exc:
            return await self._failed(view, msg, entry, None, exc.error.message, count=False)
        if not readable:
            await msg.ack()
            skipped = entry.model_copy(update={"status": "skipped", "attempts": 0})
            await self._record(view.id, msg, skipped)
            return True
        await msg.in_progress()  # the POST may take all of webhook_timeout_seconds
        code, error = await self._post(view, envelope)
        if error is None:
            await msg.ack()
            now = datetime.now(UTC)
            done = {"status": "delivered", "last_status_code": code, "delivered_at": now}
            await self._record(view.id, msg, entry.model_copy(update=done))
            if view.failing_since is not None or _due(view.last_delivery_at, now):
                await asyncio.to_thread(self.webhooks.mark_delivered, view.id, now)
            return True
        return await self._failed(view, msg, entry, code, error, count=True)

    async def _post(
        self, view: WebhookView, envelope: EventEnvelope
    ) -> tuple[int | None, str | None]:
        """The receiver's status and, unless it was 2xx, what went wrong."""
        assert self._client is not None
        body = payload(envelope)
        now = datetime.now(UTC)
        headers = {
            "webhook-id": envelope.event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(view.secret).sign(envelope.event_id, now, body),
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
        try:
            reply = await self._client.post(view.url, content=body.encode(), headers=headers)
        except UnsafeUrl as exc:
            return None, f"refused: {exc}"
        except httpx.TimeoutException:
            return None, f"no answer within {self.settings.webhook_timeout_seconds:g} s"
        except httpx.HTTPError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, UnsafeUrl):
                return None, f"refused: {cause}"
            return None, f"{type(exc).__name__}: {exc}"[:300]
        if 200 <= reply.status_code < 300:
            return reply.status_code, None
        return reply.status_code, f"HTTP {reply.status_code}"

    async def _failed(
        self,
        view: WebhookView,
        msg: Msg,
        entry: Delivery,
        code: int | None,
        error: str,
        *,
        count: bool,
    ) -> bool:
        """Retry later, or deactivate a webhook failing for too long; False if it stops.
        ``count``: a failure of the receiver (not of this system) counts toward it."""
        now = datetime.now(UTC)
        failed = {"last_status_code": code, "last_error": error}
        if count:
            since = view.failing_since or now
            if view.failing_since is None:
                await asyncio.to_thread(self.webhooks.mark_failing, view.id, now, error)
            limit = timedelta(hours=self.settings.webhook_disable_after_hours)
            if now - since >= limit:
                reason = (
                    f"failing since {since.strftime('%Y-%m-%dT%H:%M:%SZ')} for "
                    f"{self.settings.webhook_disable_after_hours:g} h (last: {error})"
                )
                await asyncio.to_thread(self.webhooks.deactivate, view.id, reason)
                await msg.nak(delay=RECONCILE_SECONDS)  # resumed here once activated
                await self._record(
                    view.id, msg, entry.model_copy(update={"status": "failed", **failed})
                )
                log.warning("webhook %s deactivated: %s", view.id, reason)
                return False
        delay = backoff(
            entry.attempts,
            self.settings.webhook_retry_base_seconds,
            self.settings.webhook_retry_max_seconds,
        )
        await msg.nak(delay=delay)
        retry = {"status": "retrying", "next_attempt_at": now + timedelta(seconds=delay), **failed}
        await self._record(view.id, msg, entry.model_copy(update=retry))
        return True

    async def _record(self, webhook_id: UUID, msg: Msg, entry: Delivery) -> None:
        try:
            await self.log.record(webhook_id, _seq(msg), entry)
        except Exception:
            log.exception("webhook %s: the delivery log was not written", webhook_id)


def _due(last_delivery_at: datetime | None, now: datetime) -> bool:
    """Whether ``last_delivery_at`` is old enough to be recorded again (the registry
    records it at most once a minute; asking it more often only costs a read)."""
    return last_delivery_at is None or now - last_delivery_at >= DELIVERED_EVERY


def _seq(msg: Msg) -> int:
    return int(msg.metadata.sequence.stream)
