"""The embedder over a real NATS JetStream, the real model and a real Qdrant Edge store:
work becomes points and ChunksEmbedded events, exactly once in effect."""

from __future__ import annotations

import uuid

import pytest
from embedder_service.deadletter import follow_dead_letters
from embedder_service.model import EmbeddingModel
from nats.js.api import AckPolicy, ConsumerConfig
from semantik_contracts.events import EmbeddingFailed
from semantik_contracts.subjects import WORK_STREAM, embed_consumer_name, embed_work_subject
from semantik_contracts.work import generation_name
from semantik_runtime.bus import Bus
from semantik_runtime.sparse import document_vector
from semantik_runtime.vectors import VectorStore

from services.embedder.tests.work import (
    SLUG,
    TEXTS,
    ServiceFactory,
    embedded_count,
    embedded_events,
    events_of,
    publish,
    queue_empty,
    work_for,
)
from tests.waiting import eventually

pytestmark = pytest.mark.integration


async def test_work_becomes_points_and_chunks_embedded_events(
    private_bus: Bus, store: VectorStore, start_embedder: ServiceFactory
) -> None:
    await start_embedder()
    collection = uuid.uuid4()
    first = work_for(collection, TEXTS)
    second = work_for(collection, TEXTS[:2])
    await publish(private_bus, first)
    await publish(private_bus, second)

    await eventually(lambda: embedded_count(private_bus, 2))
    name = generation_name(collection, 1)
    assert store.count(name) == 5
    embedded = await embedded_events(private_bus)
    assert set(embedded) == {first.document_id, second.document_id}
    event = embedded[first.document_id]
    assert (event.chunk_count, event.generation, event.work_id) == (3, 1, first.work_id)
    assert (event.operation_id, event.collection_id) == (first.operation_id, collection)
    assert event.precision == "fp32"  # what the embedder's model encoded documents in
    assert embedded[second.document_id].chunk_count == 2
    # Every message was acknowledged: the work queue is empty.
    assert (await private_bus.js.stream_info(WORK_STREAM)).state.messages == 0


async def test_points_carry_the_payload_search_returns(
    private_bus: Bus, store: VectorStore, start_embedder: ServiceFactory
) -> None:
    await start_embedder()
    work = work_for(uuid.uuid4(), TEXTS)
    await publish(private_bus, work)
    await eventually(lambda: embedded_count(private_bus, 1))

    name = generation_name(work.collection_id, 1)
    query = document_vector("galaxy telescope light")
    hits = store.query(name, mode="sparse", dense=None, sparse=query, limit=3)
    assert hits[0].id == str(work.chunks[0].chunk_id)
    assert hits[0].payload == {
        "path": f"/docs/{work.document_id}.txt",
        "text": TEXTS[0],
        "document_id": str(work.document_id),
        "collection_id": str(work.collection_id),
        "chunk_index": 0,
    }


async def test_a_chunks_header_is_read_before_its_text_and_not_stored(
    private_bus: Bus, store: VectorStore, start_embedder: ServiceFactory, model: EmbeddingModel
) -> None:
    await start_embedder()
    work = work_for(uuid.uuid4(), TEXTS)
    headed = work.chunks[1].model_copy(update={"header": "Baking at home"})
    work = work.model_copy(update={"chunks": [work.chunks[0], headed, work.chunks[2]]})
    await publish(private_bus, work)
    await eventually(lambda: embedded_count(private_bus, 1))

    name = generation_name(work.collection_id, 1)
    with_header = model.encode([f"Baking at home\n\n{TEXTS[1]}"])[0]
    [hit] = store.query(name, mode="dense", dense=with_header, sparse=None, limit=1)
    assert hit.payload["chunk_index"] == 1 and hit.score == pytest.approx(1.0, abs=1e-3)
    assert hit.payload["text"] == TEXTS[1]  # what is stored, shown and highlighted
    [plain] = store.query(
        name, mode="dense", dense=model.encode([TEXTS[1]])[0], sparse=None, limit=1
    )
    assert plain.payload["chunk_index"] == 1 and plain.score < 0.99


async def test_redelivered_and_republished_work_does_not_duplicate(
    private_bus: Bus, store: VectorStore, start_embedder: ServiceFactory
) -> None:
    # A first embedder took the work and died before acknowledging it: the durable
    # consumer still holds the message, un-acked, for whoever comes next.
    service = await start_embedder()
    await service.close()
    work = work_for(uuid.uuid4(), TEXTS)
    await publish(private_bus, work)
    consumer = await private_bus.js.pull_subscribe(
        embed_work_subject(SLUG),
        durable=service.worker.consumer_config().durable_name,
        stream=WORK_STREAM,
        config=service.worker.consumer_config(),
    )
    (taken,) = await consumer.fetch(1, timeout=5)
    await taken.nak()  # what ack_wait expiring does, without waiting for it
    await consumer.unsubscribe()

    await start_embedder()
    await eventually(lambda: embedded_count(private_bus, 1))
    # The process manager republishes work that made no progress (a new message id).
    await publish(private_bus, work, msg_id=f"{work.work_id}:again")
    await eventually(lambda: queue_empty(private_bus), timeout=30)
    assert store.count(generation_name(work.collection_id, 1)) == 3
    assert len(await events_of(private_bus, "ChunksEmbedded")) == 1


async def test_a_changed_document_replaces_the_old_points(
    private_bus: Bus, store: VectorStore, start_embedder: ServiceFactory
) -> None:
    await start_embedder()
    collection = uuid.uuid4()
    old = work_for(collection, TEXTS)
    kept = work_for(collection, TEXTS[:1])
    await publish(private_bus, old)
    await publish(private_bus, kept)
    await eventually(lambda: embedded_count(private_bus, 2))

    new = work_for(
        collection, ["A compiler and an interpreter both run programs."], replaces=[old.document_id]
    )
    await publish(private_bus, new)
    await eventually(lambda: embedded_count(private_bus, 3))

    name = generation_name(collection, 1)
    assert store.count(name) == 2
    hits = store.query(
        name, mode="sparse", dense=None, sparse=document_vector("compiler"), limit=10
    )
    assert {h.payload["document_id"] for h in hits} == {str(new.document_id)}


async def test_work_failing_on_its_last_delivery_becomes_embedding_failed(
    private_bus: Bus, store: VectorStore, start_embedder: ServiceFactory
) -> None:
    # A generation made for another model's dimension: every write of this work fails.
    collection = uuid.uuid4()
    store.create_generation(generation_name(collection, 1), 8)
    await start_embedder(max_deliver=2)
    work = work_for(collection, TEXTS)
    await publish(private_bus, work)

    async def failed() -> bool:
        return bool(await events_of(private_bus, "EmbeddingFailed"))

    await eventually(failed, timeout=20)
    (envelope,) = await events_of(private_bus, "EmbeddingFailed")
    event = envelope.event
    assert isinstance(event, EmbeddingFailed)
    assert (event.document_id, event.work_id, event.chunk_count) == (
        work.document_id,
        work.work_id,
        3,
    )
    assert "writing vectors failed" in event.reason
    assert await events_of(private_bus, "ChunksEmbedded") == []
    await eventually(lambda: queue_empty(private_bus))  # terminated, not left to linger


async def test_work_that_never_comes_back_is_dead_lettered(private_bus: Bus) -> None:
    # Every delivery ran out its ack wait (the embedder died mid-batch each time).
    subscription = await follow_dead_letters(private_bus, SLUG)
    consumer = await private_bus.js.pull_subscribe(
        embed_work_subject(SLUG),
        durable=embed_consumer_name(SLUG),
        stream=WORK_STREAM,
        config=ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=0.3,
            max_deliver=2,
            filter_subject=embed_work_subject(SLUG),
        ),
    )
    work = work_for(uuid.uuid4(), TEXTS)
    await publish(private_bus, work)
    for _ in range(2):
        await consumer.fetch(1, timeout=5)  # taken, never acknowledged
    # The server gives up on it when it would deliver it a third time (to a waiting fetch).
    with pytest.raises(TimeoutError):
        await consumer.fetch(1, timeout=1)

    async def failed() -> bool:
        return bool(await events_of(private_bus, "EmbeddingFailed"))

    await eventually(failed, timeout=10)
    (envelope,) = await events_of(private_bus, "EmbeddingFailed")
    assert isinstance(envelope.event, EmbeddingFailed)
    assert envelope.event.work_id == work.work_id
    assert "2 deliveries" in envelope.event.reason
    await eventually(lambda: queue_empty(private_bus))
    await consumer.unsubscribe()
    await subscription.unsubscribe()


async def test_two_embedders_of_a_model_share_its_work(
    private_bus: Bus, store: VectorStore, start_embedder: ServiceFactory
) -> None:
    first = await start_embedder(batch_chunks=4)
    second = await start_embedder(batch_chunks=4)
    collection = uuid.uuid4()
    documents = [work_for(collection, [f"{text} (copy {i})" for text in TEXTS]) for i in range(24)]
    for work in documents:
        await publish(private_bus, work)

    await eventually(lambda: embedded_count(private_bus, len(documents)), timeout=60)
    assert store.count(generation_name(collection, 1)) == 3 * len(documents)
    assert first.worker.embedded_messages > 0
    assert second.worker.embedded_messages > 0
    assert first.worker.embedded_messages + second.worker.embedded_messages == len(documents)


async def test_a_large_document_spans_batches_and_an_empty_one_still_completes(
    private_bus: Bus, store: VectorStore, start_embedder: ServiceFactory, model: EmbeddingModel
) -> None:
    # Two lanes encode its batches at once, and they may finish in any order.
    await start_embedder(batch_chunks=16, lanes=2)
    collection = uuid.uuid4()
    texts = [f"Paragraph {i}: {TEXTS[i % 3]}" for i in range(40)]
    large = work_for(collection, texts)
    await publish(private_bus, large)
    await eventually(lambda: embedded_count(private_bus, 1))
    name = generation_name(collection, 1)
    assert store.count(name) == 40
    # Each chunk's point carries its own text's vector, whichever batch ended first.
    for index in (0, 15, 16, 31, 32, 39):
        [hit] = store.query(
            name, mode="dense", dense=model.encode([texts[index]])[0], sparse=None, limit=1
        )
        assert hit.payload["chunk_index"] == index

    # A document that now yields no chunks replaces its previous version all the same.
    empty = work_for(collection, [], replaces=[large.document_id])
    await publish(private_bus, empty)
    await eventually(lambda: embedded_count(private_bus, 2))
    assert store.count(name) == 0
    counts = {d: e.chunk_count for d, e in (await embedded_events(private_bus)).items()}
    assert counts == {large.document_id: 40, empty.document_id: 0}
