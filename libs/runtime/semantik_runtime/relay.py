"""Outbox relay: the application's notification log → SEMANTIK_EVENTS, exactly once.

The position is recorded only after JetStream acknowledged the publish; a relay killed
between the two republishes, and ``Nats-Msg-Id`` (the event id) makes that a no-op in
the stream. Nothing is lost and nothing is duplicated downstream.

``Nats-Msg-Id`` only de-duplicates within the stream's duplicate window, and a relay may
be down for longer. So after a start or a failure, the events past the recorded position
are checked against the stream until the first one that is not there: each event's
subject names its aggregate and type, and the last message on that subject tells whether
this version is there. A relay publishes in log order, so what it published before it
stopped is a prefix of what follows the position: after the first event missing from the
stream, none of the later ones is there either, and checking stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Tracking
from nats.js.api import PubAck
from semantik_contracts import EventEnvelope
from semantik_contracts.events import EVENT_TYPES

from .bus import Bus
from .threads import finish_in_thread

log = logging.getLogger(__name__)

Translate = Callable[[DomainEventProtocol[Any]], EventEnvelope | None]


def envelope_for(domain_event: DomainEventProtocol[Any]) -> EventEnvelope | None:
    """Map a stored domain event to its contract event, by class name.

    Domain events are named as the contract names them; an event without a contract
    counterpart is internal bookkeeping and is not published.
    """
    name = type(domain_event).__name__
    contract = EVENT_TYPES.get(name)
    if contract is None:
        return None
    state = dict(vars(domain_event))
    aggregate_type = type(domain_event).__qualname__.split(".")[0].lower()
    # An aggregate's own id is its originator id: ``collection_id`` of a Collection's
    # events, ``operation_id`` of an Operation's, and so on.
    state.setdefault(f"{aggregate_type}_id", domain_event.originator_id)
    return EventEnvelope(
        event_id=f"{domain_event.originator_id}:{domain_event.originator_version}",
        aggregate_type=aggregate_type,
        aggregate_id=domain_event.originator_id,
        version=domain_event.originator_version,
        schema_version=getattr(type(domain_event), "class_version", 1),
        occurred_at=state.pop("timestamp"),
        traceparent=state.pop("traceparent", None),
        event=contract.model_validate(state),
    )


class OutboxRelay:
    """Follows one application's notification log and publishes each event once."""

    def __init__(
        self,
        app: Application[Any],
        bus: Bus,
        translate: Translate = envelope_for,
        *,
        batch: int = 200,
        poll_interval: float = 0.5,
        ack_timeout: float = 10.0,
    ) -> None:
        self.app = app
        self.bus = bus
        self.translate = translate
        self.batch = batch
        self.poll_interval = poll_interval
        self.ack_timeout = ack_timeout
        self.tracking = app.factory.tracking_recorder()
        self.tracking_name = f"{app.name}.relay"
        self._wake = asyncio.Event()
        #: What follows the position may have been published before (start, failure).
        self._uncertain = True

    def wake(self) -> None:
        """Called after the application saved something: publish without waiting."""
        self._wake.set()

    def position(self) -> int:
        return self.tracking.max_tracking_id(self.tracking_name) or 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # Cleared before reading the log, not after: a save woken during the read
            # is read at once, not a poll interval later (the last event of an operation,
            # its completion, waited up to half a second that way).
            self._wake.clear()
            try:
                published = await self.publish_pending()
            except Exception:
                log.warning("relay of %s failed; retrying", self.app.name, exc_info=True)
                self._uncertain = True
                published = 0
                await asyncio.sleep(self.poll_interval)
            if published:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def publish_pending(self) -> int:
        """Publish the next batch of notifications; return how many were read."""
        start = self.position() + 1
        notifications = await finish_in_thread(
            self.app.recorder.select_notifications, start, self.batch
        )
        acks: list[asyncio.Future[PubAck]] = []
        for notification in notifications:
            envelope = self.translate(self.app.mapper.to_domain_event(notification))
            if envelope is None:
                continue
            if self._uncertain:
                if await self.bus.has_event(envelope):
                    continue
                self._uncertain = False  # the first one missing: the rest is new
            acks.append(await self.bus.publish_event_pipelined(envelope))
        if acks:  # every one acknowledged, or the batch is retried (a failure raises)
            acked = asyncio.gather(*acks)
            # Its outcome is read even when the relay is stopped while waiting for it.
            acked.add_done_callback(lambda done: done.cancelled() or done.exception())
            await asyncio.wait_for(acked, self.ack_timeout)
        if notifications:
            last = notifications[-1].id
            await finish_in_thread(
                self.tracking.insert_tracking, Tracking(self.tracking_name, last)
            )
        return len(notifications)
