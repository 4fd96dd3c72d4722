"""Durable JetStream pull consumers: the way services follow events and work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError
from opentelemetry.trace import Span, SpanKind
from pydantic import ValidationError
from semantik_contracts import EventEnvelope
from semantik_contracts.subjects import EVENTS_STREAM

from . import telemetry
from .bus import TRACEPARENT, Bus

log = logging.getLogger(__name__)

EventHandler = Callable[[EventEnvelope], Awaitable[None]]
EventBatchHandler = Callable[[list[EventEnvelope]], Awaitable[None]]


def durable_config(
    durable: str,
    filter_subject: str,
    *,
    ack_wait: float = 60.0,
    max_deliver: int = 20,
    max_ack_pending: int = 1000,
) -> api.ConsumerConfig:
    return api.ConsumerConfig(
        durable_name=durable,
        filter_subject=filter_subject,
        ack_policy=api.AckPolicy.EXPLICIT,
        deliver_policy=api.DeliverPolicy.ALL,
        ack_wait=ack_wait,
        max_deliver=max_deliver,
        max_ack_pending=max_ack_pending,
    )


async def follow_events(
    bus: Bus,
    durable: str,
    filter_subject: str,
    handler: EventHandler,
    stop: asyncio.Event,
    *,
    batch: int = 64,
) -> None:
    """Feed every event matching ``filter_subject`` to ``handler``, in stream order.

    An event is acked after its handler returns; a handler that raises gets it again
    later (handlers are idempotent). A message that is not an event is terminated.
    """

    async def deliver(messages: list[Msg]) -> None:
        for msg in messages:
            await _deliver(msg, handler, durable, bus.name)

    await _follow(bus, durable, filter_subject, deliver, stop, batch)


async def follow_event_batches(
    bus: Bus,
    durable: str,
    filter_subject: str,
    handler: EventBatchHandler,
    stop: asyncio.Event,
    *,
    batch: int = 64,
) -> None:
    """Like ``follow_events``, but the events of each fetch go to ``handler`` in one call
    (in stream order), so that it can fold many into one transaction: for events that
    come by the thousand per operation (``ChunksEmbedded``).

    The events are acked after it returns. If it raises, each event is handed to it alone,
    so an event that cannot be handled is retried (and in the end dropped) by itself.
    """

    async def deliver(messages: list[Msg]) -> None:
        held: list[tuple[Msg, EventEnvelope]] = []
        for msg in messages:
            envelope = await _parse(msg, durable)
            if envelope is not None:
                held.append((msg, envelope))
        if len(held) > 1 and await _handle_batch(held, handler, durable, bus.name):
            return
        for msg, envelope in held:
            await _handle_one(msg, envelope, lambda e: handler([e]), durable, bus.name)

    await _follow(bus, durable, filter_subject, deliver, stop, batch)


async def caught_up(bus: Bus, durables: Iterable[str], *, timeout: float = 2.0) -> bool:
    """Wait until each of ``durables`` has handled (acked) every event of its filter that
    the events stream held when this was called; False if ``timeout`` passed first.

    A read model folded by a consumer lags the events that other services act on: the
    operation that a client waited for completes on the collections service's count of
    ``ChunksEmbedded``, while ingest folds the same events on a consumer of its own. A
    query answered after this sees what was published before it was asked. A consumer
    not made yet has handled nothing and is not waited for.
    """
    target = (await bus.js.stream_info(EVENTS_STREAM)).state.last_seq
    waiting = set(durables)
    deadline = time.monotonic() + timeout
    while True:
        for durable in sorted(waiting):
            try:
                info = await bus.js.consumer_info(EVENTS_STREAM, durable)
            except NotFoundError:
                waiting.discard(durable)
                continue
            if _handled_up_to(info, target):
                waiting.discard(durable)
        if not waiting:
            return True
        if time.monotonic() >= deadline:
            log.info("%s still behind event %d after %.1f s", ", ".join(waiting), target, timeout)
            return False
        await asyncio.sleep(0.01)


def _handled_up_to(info: api.ConsumerInfo, seq: int) -> bool:
    """Has the consumer acked every event of its filter up to stream sequence ``seq``?

    Its ack floor says so once it passes ``seq``. Until then, with nothing unacked, so
    does a delivery that reached ``seq`` or nothing left to deliver (the events after the
    floor may all be outside its filter).
    """
    floor = info.ack_floor.stream_seq if info.ack_floor else 0
    if (floor or 0) >= seq:
        return True
    if info.num_ack_pending:
        return False
    delivered = info.delivered.stream_seq if info.delivered else 0
    return not info.num_pending or (delivered or 0) >= seq


async def _follow(
    bus: Bus,
    durable: str,
    filter_subject: str,
    deliver: Callable[[list[Msg]], Awaitable[None]],
    stop: asyncio.Event,
    batch: int,
) -> None:
    sub = await bus.js.pull_subscribe(
        filter_subject,
        durable=durable,
        stream=EVENTS_STREAM,
        config=durable_config(durable, filter_subject),
    )
    try:
        while not stop.is_set():
            try:
                messages = await sub.fetch(batch, timeout=1.0)
            except (NatsTimeoutError, TimeoutError):
                continue
            except Exception:
                # Reconnecting: the consumer is durable, nothing is lost.
                log.warning("fetch on %s failed; retrying", durable, exc_info=True)
                await asyncio.sleep(0.5)
                continue
            await deliver(messages)
    finally:
        # The durable consumer stays on the server; only this client's interest ends.
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def _parse(msg: Msg, durable: str) -> EventEnvelope | None:
    try:
        return EventEnvelope.model_validate_json(msg.data)
    except ValidationError:
        log.error("%s: not an event on %s; terminated", durable, msg.subject)
        await msg.term()
        return None


async def _handle_batch(
    held: list[tuple[Msg, EventEnvelope]], handler: EventBatchHandler, durable: str, service: str
) -> bool:
    """Handle the events in one call and ack them; False (nothing acked) if it raised.

    The call runs in the span of the last event, whose trace the events it saves carry
    (the one that completes an operation is the last it folds in); every other event
    gets its own span in its own trace."""
    started = time.time()
    try:
        with _processing(*held[-1], durable, service, len(held)):
            await handler([e for _, e in held])
    except Exception:
        log.warning("%s: handling %d events together failed; one by one", durable, len(held))
        return False
    for msg, envelope in held[:-1]:
        parent = (msg.headers or {}).get(TRACEPARENT) or envelope.traceparent
        telemetry.record_span(
            f"process {envelope.type}",
            service,
            parent,
            started,
            {"messaging.consumer.group.name": durable},
        )
    for msg, _ in held:
        await msg.ack()
    return True


def _processing(
    msg: Msg, envelope: EventEnvelope, durable: str, service: str, batch: int = 1
) -> contextlib.AbstractContextManager[Span]:
    """The span of handling an event: it continues the trace of the event's cause."""
    return telemetry.span(
        f"process {envelope.type}",
        service,
        kind=SpanKind.CONSUMER,
        parent=telemetry.parent_context(msg.headers, envelope.traceparent),
        attributes={"messaging.consumer.group.name": durable, "semantik.batch": batch},
    )


async def _deliver(msg: Msg, handler: EventHandler, durable: str, service: str) -> None:
    envelope = await _parse(msg, durable)
    if envelope is not None:
        await _handle_one(msg, envelope, handler, durable, service)


async def _handle_one(
    msg: Msg, envelope: EventEnvelope, handler: EventHandler, durable: str, service: str
) -> None:
    try:
        with _processing(msg, envelope, durable, service):
            await handler(envelope)
    except Exception:
        delivered = msg.metadata.num_delivered if msg.metadata else 1
        log.exception("%s: handling %s failed (delivery %s)", durable, envelope.type, delivered)
        await msg.nak(delay=min(0.5 * 2 ** min(delivered, 6), 30.0))
        return
    await msg.ack()


async def read_to_end(
    sub: JetStreamContext.PullSubscription,
    each: Callable[[Msg], None],
    batch: int = 512,
    patience: float = 60.0,
) -> None:
    """Hand ``each`` every message an unacknowledged consumer has to deliver, to its end.

    Neither an empty answer nor a fetch's timeout is the end: nats-py's ``fetch`` answers
    ``[]`` when its pull request ends in statuses only (an earlier request's late 408s on
    the same inbox among them), and a loaded server may answer after the fetch's second.
    The end is the consumer's word: nothing pending, and the last message it delivered
    handed on here. Raises ``TimeoutError`` when that end is not reached within
    ``patience`` seconds, so that a caller never acts on part of a log it took for all.
    """
    deadline = time.monotonic() + patience
    handed = 0  # the stream sequence of the last message handed on
    while True:
        try:
            messages = await sub.fetch(batch, timeout=1.0)
        except (NatsTimeoutError, TimeoutError):
            messages = []
        for msg in messages:
            handed = msg.metadata.sequence.stream
            each(msg)
        if messages and messages[-1].metadata.num_pending == 0:
            return
        if not messages:
            info = await sub.consumer_info()
            delivered = info.delivered.stream_seq if info.delivered else 0
            if not info.num_pending and (delivered or 0) <= handed:
                return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the stream was not read to its end within {patience:.0f} s")
