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

import contextlib
import logging
import re
from dataclasses import dataclass, field
from uuid import UUID

from nats.aio.msg import Msg
from nats.js import api
from pydantic import ValidationError
from semantik_contracts import EventEnvelope
from semantik_contracts.events import CollectionDeleted, GenerationCreated, GenerationDropped
from semantik_contracts.subjects import EVENTS_STREAM, event_filter
from semantik_runtime.bus import Bus
from semantik_runtime.consumer import read_to_end

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

    def fold_message(self, msg: Msg) -> None:
        """Fold one message of the events stream; an event type this version does not
        know is passed over."""
        with contextlib.suppress(ValidationError):
            self.fold(EventEnvelope.model_validate_json(msg.data))

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
        await read_to_end(sub, facts.fold_message, batch, patience)
    finally:
        await sub.unsubscribe()
    return facts
