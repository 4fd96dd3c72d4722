"""Generations as the event log describes them: dropped ones go, orphans are swept,
referenced ones (active, staging, waiting out a grace period) are never touched."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from embedder_service.generations import GenerationFacts
from nats.js import JetStreamContext, api
from semantik_contracts import EventEnvelope
from semantik_contracts.events import (
    AnyEvent,
    GenerationActivated,
    GenerationCreated,
    GenerationDropped,
)
from semantik_contracts.subjects import EVENTS_STREAM, VECTORS, command_subject, event_filter
from semantik_contracts.work import SampleChunks, SampledChunks, generation_name
from semantik_runtime.bus import Bus
from semantik_runtime.consumer import read_to_end
from semantik_runtime.vectors import VectorStore

from services.embedder.tests.work import (
    TEXTS,
    ServiceFactory,
    embedded_count,
    publish,
    work_for,
)
from tests.waiting import eventually

pytestmark = pytest.mark.integration


async def record(bus: Bus, collection_id: UUID, version: int, event: AnyEvent) -> None:
    """Publish a collection event as the collections service's relay would."""
    await bus.publish_event(
        EventEnvelope(
            event_id=f"{collection_id}:{version}",
            aggregate_type="collection",
            aggregate_id=collection_id,
            version=version,
            occurred_at=datetime.now(UTC),
            event=event,
        )
    )


def created(collection_id: UUID, generation: int) -> GenerationCreated:
    return GenerationCreated(
        collection_id=collection_id,
        generation=generation,
        model_name="sentence-transformers/all-MiniLM-L6-v2",
        model_dimension=384,
        chunk_size=256,
        chunk_overlap=25,
    )


async def test_dropped_generations_go_and_orphans_are_swept(
    private_bus: Bus, store: VectorStore, start_embedder: ServiceFactory
) -> None:
    embedder = await start_embedder()
    collection, stranger = uuid.uuid4(), uuid.uuid4()
    # Generation 1 was active, 2 replaced it (1 waits out its grace period), 3 is
    # staging; 4 exists in the store but the log never created it.
    await record(private_bus, collection, 1, created(collection, 1))
    await record(
        private_bus, collection, 2, GenerationActivated(collection_id=collection, generation=1)
    )
    await record(private_bus, collection, 3, created(collection, 2))
    await record(
        private_bus,
        collection,
        4,
        GenerationActivated(collection_id=collection, generation=2, previous_generation=1),
    )
    await record(private_bus, collection, 5, created(collection, 3))
    works = [work_for(collection, TEXTS, generation=g) for g in (1, 2, 3, 4)]
    works.append(work_for(stranger, TEXTS))  # a collection this log does not know
    for work in works:
        await publish(private_bus, work)
    await eventually(lambda: embedded_count(private_bus, len(works)))

    # The staging generation fails: GenerationDropped removes it from the store.
    await record(
        private_bus, collection, 6, GenerationDropped(collection_id=collection, generation=3)
    )

    async def staging_gone() -> bool:
        return not store.has_generation(generation_name(collection, 3))

    await eventually(staging_gone)
    assert await embedder.sweep_orphans() == [generation_name(collection, 4)]
    assert store.generations() == sorted(
        [
            generation_name(collection, 1),
            generation_name(collection, 2),
            generation_name(stranger, 1),
        ]
    )
    assert store.count(generation_name(collection, 2)) == len(TEXTS)
    assert await embedder.sweep_orphans() == []


def test_generation_facts_follow_the_log() -> None:
    collection, deleted = uuid.uuid4(), uuid.uuid4()
    facts = GenerationFacts(live={collection: {2, 3}}, deleted={deleted})
    names = [
        generation_name(collection, 1),
        generation_name(collection, 2),
        generation_name(collection, 3),
        generation_name(deleted, 1),
        generation_name(uuid.uuid4(), 1),
        "not-a-generation",
    ]
    assert facts.orphans(names) == [generation_name(collection, 1), generation_name(deleted, 1)]


class EmptyFirst:
    """A real pull subscription whose first ``empties`` fetches answer ``[]``: what
    nats-py's fetch answers when its pull request ends in statuses only (made to happen
    for real in tests/test_subscriber_table.py, where it is timing's doing)."""

    def __init__(self, sub: JetStreamContext.PullSubscription, empties: int) -> None:
        self.sub, self.empties = sub, empties

    async def fetch(self, batch: int, timeout: float) -> list[Any]:
        if self.empties:
            self.empties -= 1
            await asyncio.sleep(0.05)
            return []
        return await self.sub.fetch(batch, timeout=timeout)

    async def consumer_info(self) -> api.ConsumerInfo:
        return await self.sub.consumer_info()


async def test_the_log_is_read_to_its_end_through_empty_answers(private_bus: Bus) -> None:
    collection = uuid.uuid4()
    for generation in (1, 2, 3):
        await record(private_bus, collection, generation, created(collection, generation))

    async def reader() -> JetStreamContext.PullSubscription:
        config = api.ConsumerConfig(
            ack_policy=api.AckPolicy.NONE, deliver_policy=api.DeliverPolicy.ALL
        )
        filter_subject = event_filter(aggregate_type="collection")
        return await private_bus.js.pull_subscribe(
            filter_subject, stream=EVENTS_STREAM, config=config
        )

    # Two empty answers, then two events to a fetch: the third is still read, so the
    # sweep would not take generation 3 for an orphan.
    facts = GenerationFacts()
    await read_to_end(EmptyFirst(await reader(), 2), facts.fold_message, batch=2, patience=30)
    assert facts.live[collection] == {1, 2, 3}

    # Nothing but empty answers while the consumer has events to deliver: no facts.
    with pytest.raises(TimeoutError, match="not read to its end within 1 s"):
        await read_to_end(EmptyFirst(await reader(), 10**6), GenerationFacts().fold_message, 2, 1.0)


async def test_sampled_chunks_are_texts_of_the_generation(
    private_bus: Bus, start_embedder: ServiceFactory
) -> None:
    await start_embedder()
    collection = uuid.uuid4()
    await publish(private_bus, work_for(collection, TEXTS, generation=2))
    await eventually(lambda: embedded_count(private_bus, 1))
    subject = command_subject(VECTORS, "SampleChunks")
    query = SampleChunks(collection_id=collection, generation=2, limit=2)
    sampled = await private_bus.request(subject, query, SampledChunks)
    assert len(sampled.texts) == 2 and set(sampled.texts) <= set(TEXTS)
    missing = SampleChunks(collection_id=collection, generation=5)
    assert (await private_bus.request(subject, missing, SampledChunks)).texts == []
