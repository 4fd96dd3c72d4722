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

The stream may also lose what it acknowledged (SPEC §2): a purge, or a server that lost
writes not yet on disk. So while idle the relay checks, every ``verify_interval``, that
an event it published before the previous check is still there, at the stream sequence
its publish was acknowledged with (the most recent such event: any loss since that check
takes it too); when it is not, it replays its whole log, publishing each event the
stream lacks (checked as above, one by one) under a message id of its own,
``<event id>:replay-<tag>``: a purge keeps the duplicate window's ids, which would drop
the same id again. Consumers fold a replayed event they saw before as a no-op.

The stream also drops old events on purpose (its retention, ``retention.py``): an
event its limits removed is not lost, and is never published again. A probe the limits
removed is no loss, and a replay skips the events that occurred before the retention's
horizon (the age limit, or the first message a full stream keeps).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Tracking
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
        verify_interval: float = 5.0,
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
        self.verify_interval = verify_interval
        self._verified_at = time.monotonic()
        #: (stream sequence, message id, when its batch was sent) of the last event the
        #: stream acknowledged, and of the last one acknowledged before the previous
        #: check (``verify``).
        self._last: tuple[int, str, datetime] | None = None
        self._probe: tuple[int, str, datetime] | None = None
        #: The log position a replay has reached (None: no replay under way).
        self._replaying: int | None = None
        self._replay_tag = ""
        #: Events published again by replays since this relay started.
        self.replayed = 0
        #: Events replays left out since this relay started: the retention removed them.
        self.expired = 0

    def wake(self) -> None:
        """Called after the application saved something: publish without waiting."""
        self._wake.set()

    def position(self) -> int:
        return self.tracking.max_tracking_id(self.tracking_name) or 0

    async def run(self, stop: asyncio.Event) -> None:
        # What the stream lost while this relay was down is found before anything new is
        # published: after that, the check looks for the new events.
        await self._verify_logged()
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
            due = time.monotonic() - self._verified_at >= self.verify_interval
            if due and await self._verify_logged():
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def _verify_logged(self) -> bool:
        try:
            return await self.verify()
        except Exception:  # made again at the next interval
            log.warning("relay of %s could not verify", self.app.name, exc_info=True)
            return False

    async def verify(self) -> bool:
        """Is an event published before the previous check still in the stream? If not,
        the stream lost messages: start replaying the log (True). Also called by the
        operation watchdog when an operation stalls."""
        self._verified_at = time.monotonic()
        if self._replaying is not None:
            return False
        if self._probe is not None:
            seq, msg_id, sent_at = self._probe
            there = await self.bus.event_message_id(seq) == msg_id
        else:  # nothing published since the start: the log's last event, by its subject
            last = await self._last_published()
            msg_id = last.event_id if last is not None else ""
            there = last is None or await self.bus.has_event(last)
        if there:
            self._probe = self._last or self._probe
            return False
        retained = await self.bus.retained()
        if self._probe is not None:
            expired = retained.removed(seq, sent_at)
        else:
            expired = last is not None and retained.occurred_before_horizon(last.occurred_at)
        if expired:  # the retention's doing: check what was published since, if anything
            self._probe = self._last if self._last != self._probe else None
            return False
        log.warning("%s: event %s is no longer in the stream", self.app.name, msg_id)
        return self.replay()

    def replay(self) -> bool:
        """Check the whole log against the stream, publishing again what it lacks; False
        when a replay is under way already."""
        if self._replaying is not None:
            return False
        self._replaying, self._replay_tag = 1, f"replay-{time.time_ns()}"
        self._probe = None  # what the replay publishes is checked from then on
        log.warning("%s: replaying the log into the stream", self.app.name)
        self.wake()
        return True

    async def _last_published(self) -> EventEnvelope | None:
        """The last event up to the position (after a start, before anything new)."""
        position = self.position()
        window = 64
        while position > 0:
            start = max(1, position - window + 1)
            notifications = await finish_in_thread(
                self.app.recorder.select_notifications, start, window, position
            )
            for notification in reversed(notifications):
                envelope = self.translate(self.app.mapper.to_domain_event(notification))
                if envelope is not None:
                    return envelope
            position = start - 1
        return None

    async def _replay(self, start: int) -> int:
        """Publish again the events from ``start`` up to the position that the stream
        lacks; return how many notifications were read (0 when the replay is done)."""
        end = self.position()
        notifications = await finish_in_thread(
            self.app.recorder.select_notifications, start, self.batch, end
        )
        retained = await self.bus.retained()
        acks: list[asyncio.Future[PubAck]] = []
        published: list[str] = []
        sent_at = datetime.now(UTC)
        for notification in notifications:
            envelope = self.translate(self.app.mapper.to_domain_event(notification))
            if envelope is None or await self.bus.has_event(envelope):
                continue
            if retained.occurred_before_horizon(envelope.occurred_at):
                self.expired += 1  # older than what the stream keeps: not lost
                continue
            msg_id = f"{envelope.event_id}:{self._replay_tag}"
            acks.append(await self.bus.publish_event_pipelined(envelope, msg_id))
            published.append(msg_id)
        await self._acked(acks, published, sent_at)
        self.replayed += len(acks)
        if not notifications or notifications[-1].id >= end:
            log.info("%s: replay done (%d events published again)", self.app.name, self.replayed)
            self._replaying = None
            return len(notifications)
        self._replaying = notifications[-1].id + 1
        return len(notifications)

    async def _acked(
        self, acks: list[asyncio.Future[PubAck]], msg_ids: list[str], sent_at: datetime
    ) -> None:
        """Wait until every publish is acknowledged (a failure raises: the batch is
        retried), and note what later checks look for (and when it was sent: the age
        limit removes it after that time, not before)."""
        if acks:
            acked = asyncio.gather(*acks)
            # Its outcome is read even when the relay is stopped while waiting for it.
            acked.add_done_callback(lambda done: done.cancelled() or done.exception())
            replies = await asyncio.wait_for(acked, self.ack_timeout)
            if not replies[-1].duplicate:
                self._last = (replies[-1].seq, msg_ids[-1], sent_at)
            if self._probe is None and not replies[0].duplicate:
                # Checked until the next check.
                self._probe = (replies[0].seq, msg_ids[0], sent_at)

    async def publish_pending(self) -> int:
        """Publish the next batch of notifications; return how many were read."""
        if self._replaying is not None:
            replayed = await self._replay(self._replaying)
            if replayed:
                return replayed
        start = self.position() + 1
        notifications = await finish_in_thread(
            self.app.recorder.select_notifications, start, self.batch
        )
        acks: list[asyncio.Future[PubAck]] = []
        published: list[str] = []
        sent_at = datetime.now(UTC)
        for notification in notifications:
            envelope = self.translate(self.app.mapper.to_domain_event(notification))
            if envelope is None:
                continue
            if self._uncertain:
                if await self.bus.has_event(envelope):
                    continue
                self._uncertain = False  # the first one missing: the rest is new
            acks.append(await self.bus.publish_event_pipelined(envelope))
            published.append(envelope.event_id)
        # Every one acknowledged, or the batch is retried.
        await self._acked(acks, published, sent_at)
        if notifications:
            await finish_in_thread(self._record, notifications[-1].id)
        return len(notifications)

    def _record(self, last: int) -> None:
        """Record the position; a replica whose relay recorded it (or a later one)
        first is no failure: the same events went out under the same ids, which the
        stream dropped as duplicates (single-row tracking only moves forward)."""
        try:
            self.tracking.insert_tracking(Tracking(self.tracking_name, last))
        except IntegrityError:
            if self.position() < last:
                raise
