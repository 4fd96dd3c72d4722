"""How long SEMANTIK_EVENTS keeps events, and telling what its limits removed from what
the stream lost (SPEC §2, §14).

The stream is transport, the event stores are the truth: read models and ``semantik
projections rebuild`` fold the stores, never the stream, so dropping old events from it
loses nothing. But the outbox relay heals a stream that lost events by publishing again
what it lacks (``OutboxRelay.replay``): an event the limits removed on purpose must not
come back, and one the stream lost must.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from semantik_contracts.subjects import EVENTS_STREAM, EVENTS_SUBJECTS

from .settings import EventRetentionSettings

#: The largest message NATS takes by default (max_payload): a stream at its size limit
#: holds less than its limit by at most this much.
MAX_EVENT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class EventRetention:
    """The limits SEMANTIK_EVENTS drops its oldest events by (0: none of that kind)."""

    max_age_seconds: float = 0
    max_bytes: int = 0
    #: Not a setting: tests make events age out by count, in milliseconds.
    max_msgs: int = 0

    @classmethod
    def from_settings(cls, settings: EventRetentionSettings) -> EventRetention:
        return cls(settings.events_max_age_seconds, int(settings.events_max_bytes))


@dataclass(frozen=True)
class Retained:
    """What SEMANTIK_EVENTS keeps, to tell an event its limits removed from one it lost.

    The age limit removes what was published before ``aged_before``, exactly. A size or
    count limit removes the oldest only once the stream is ``full``: then everything
    before ``first_seq`` went by that limit, and ``first_kept`` is the time of the first
    message kept. A stream below its limits that lacks old events was purged or lost
    them (SPEC §2): those are published again."""

    first_seq: int
    aged_before: datetime | None = None
    full: bool = False
    first_kept: datetime | None = None

    @property
    def horizon(self) -> datetime | None:
        """Events that occurred before this time may be gone on purpose (None: none)."""
        times = [t for t in (self.aged_before, self.first_kept) if t is not None]
        return max(times) if times else None

    def removed(self, seq: int, published_at: datetime) -> bool:
        """Did the limits remove the message ``seq``, published at ``published_at``?"""
        if seq >= self.first_seq:
            return False  # within what the stream keeps: lost, not expired
        aged = self.aged_before is not None and published_at < self.aged_before
        return self.full or aged

    def occurred_before_horizon(self, occurred_at: datetime) -> bool:
        """Did an event of this time possibly expire (so a missing one is not lost)?"""
        horizon = self.horizon
        if occurred_at.tzinfo is None:
            occurred_at = occurred_at.replace(tzinfo=UTC)
        return horizon is not None and occurred_at < horizon


async def retained_events(js: JetStreamContext) -> Retained:
    """What SEMANTIK_EVENTS keeps now, and which missing events its limits removed."""
    info = await js.stream_info(EVENTS_STREAM)
    config, state = info.config, info.state
    aged_before = None
    if config.max_age:
        aged_before = datetime.now(UTC) - timedelta(seconds=config.max_age)
    max_bytes, max_msgs = config.max_bytes or -1, config.max_msgs or -1
    full = state.messages > 0 and (
        (max_bytes > 0 and state.bytes + MAX_EVENT_BYTES >= max_bytes)
        or (max_msgs > 0 and state.messages >= max_msgs)
    )
    first_kept = None
    if full:
        with contextlib.suppress(NotFoundError):  # emptied meanwhile: nothing to mark
            first = await js.get_msg(
                EVENTS_STREAM, state.first_seq, subject=EVENTS_SUBJECTS, next=True
            )
            first_kept = first.time
    return Retained(state.first_seq, aged_before, full, first_kept)
