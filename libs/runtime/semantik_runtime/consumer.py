"""Durable JetStream pull consumers: the way services follow events and work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import api
from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from semantik_contracts import EventEnvelope
from semantik_contracts.subjects import EVENTS_STREAM

from . import telemetry
from .bus import Bus

log = logging.getLogger(__name__)

EventHandler = Callable[[EventEnvelope], Awaitable[None]]


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
            for msg in messages:
                await _deliver(msg, handler, durable, bus.name)
    finally:
        # The durable consumer stays on the server; only this client's interest ends.
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def _deliver(msg: Msg, handler: EventHandler, durable: str, service: str) -> None:
    try:
        envelope = EventEnvelope.model_validate_json(msg.data)
    except ValidationError:
        log.error("%s: not an event on %s; terminated", durable, msg.subject)
        await msg.term()
        return
    try:
        # The span continues the trace of the event's cause (its header).
        with telemetry.span(
            f"process {envelope.type}",
            service,
            kind=SpanKind.CONSUMER,
            parent=telemetry.parent_context(msg.headers, envelope.traceparent),
            attributes={"messaging.consumer.group.name": durable},
        ):
            await handler(envelope)
    except Exception:
        delivered = msg.metadata.num_delivered if msg.metadata else 1
        log.exception("%s: handling %s failed (delivery %s)", durable, envelope.type, delivered)
        await msg.nak(delay=min(0.5 * 2 ** min(delivered, 6), 30.0))
        return
    await msg.ack()
