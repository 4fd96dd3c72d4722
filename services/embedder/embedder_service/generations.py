"""Which vector generations the event log still refers to, and the orphan sweep.

A generation is referred to from its ``GenerationCreated`` until its
``GenerationDropped`` or its collection's ``CollectionDeleted``: that covers the active
one, a staging one and one waiting out its grace period after a reindex. Anything else
in the store that is named like a generation of a known collection is an orphan (say,
work for a dropped staging generation that arrived after an embedder restarted and
created it again). Generations of collections the log does not know are left alone:
a log with a retention limit may have forgotten them.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from uuid import UUID

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext, api
from pydantic import ValidationError
from semantik_contracts import EventEnvelope
from semantik_contracts.events import CollectionDeleted, GenerationCreated, GenerationDropped
from semantik_contracts.subjects import EVENTS_STREAM, event_filter
from semantik_runtime.bus import Bus

log = logging.getLogger(__name__)

_GENERATION = re.compile(r"(?P<collection>[0-9a-f-]{36})_g(?P<number>[0-9]+)")


@dataclass
class GenerationFacts:
    """The log's generations per collection, folded from the collection events."""

    live: dict[UUID, set[int]] = field(default_factory=dict)
    deleted: set[UUID] = field(default_factory=set)

    def fold(self, envelope: EventEnvelope) -> None:
        event = envelope.event
        if isinstance(event, GenerationCreated):
            self.live.setdefault(event.collection_id, set()).add(event.generation)
        elif isinstance(event, GenerationDropped):
            self.live.setdefault(event.collection_id, set()).discard(event.generation)
        elif isinstance(event, CollectionDeleted):
            self.deleted.add(event.collection_id)

    def orphans(self, names: list[str]) -> list[str]:
        """The names among ``names`` that no generation of a known collection refers to."""
        found = []
        for name in names:
            match = _GENERATION.fullmatch(name)
            if match is None:
                continue
            collection = UUID(match["collection"])
            known = self.live.get(collection)
            if collection in self.deleted or (
                known is not None and int(match["number"]) not in known
            ):
                found.append(name)
        return found


async def read_generation_facts(
    bus: Bus, batch: int = 512, patience: float = 60.0
) -> GenerationFacts:
    """Fold every collection event in the log, up to its end now.

    Raises ``TimeoutError`` when the log cannot be read to that end within ``patience``
    seconds: the sweep drops what the facts do not name, so it must never act on part of
    the log (a collection whose later ``GenerationCreated`` was not read would lose that
    generation).
    """
    facts = GenerationFacts()
    sub = await bus.js.pull_subscribe(
        event_filter(aggregate_type="collection"),
        stream=EVENTS_STREAM,
        config=api.ConsumerConfig(
            ack_policy=api.AckPolicy.NONE,
            deliver_policy=api.DeliverPolicy.ALL,
            inactive_threshold=30.0,
        ),
    )
    try:
        await read_to_end(sub, facts, batch, patience)
    finally:
        await sub.unsubscribe()
    return facts


async def read_to_end(
    sub: JetStreamContext.PullSubscription, facts: GenerationFacts, batch: int, patience: float
) -> None:
    """Fold what the (unacknowledged) consumer has to deliver, to its end.

    Neither an empty answer nor a fetch's timeout is the end: nats-py's ``fetch`` answers
    ``[]`` when its pull request ends in statuses only (an earlier request's late 408s on
    the same inbox among them), and a loaded server may answer after the fetch's second.
    The end is the consumer's word: nothing pending, and the last message it delivered
    folded here.
    """
    deadline = time.monotonic() + patience
    folded = 0  # the stream sequence of the last message folded
    while True:
        try:
            messages = await sub.fetch(batch, timeout=1.0)
        except (NatsTimeoutError, TimeoutError):
            messages = []
        for msg in messages:
            folded = msg.metadata.sequence.stream
            try:
                facts.fold(EventEnvelope.model_validate_json(msg.data))
            except ValidationError:
                continue  # an event type this version does not know
        if messages and messages[-1].metadata.num_pending == 0:
            return
        if not messages:
            info = await sub.consumer_info()
            delivered = info.delivered.stream_seq if info.delivered else 0
            if not info.num_pending and (delivered or 0) <= folded:
                return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the event log was not read to its end within {patience:.0f} s")
