"""The embedder over a real NATS JetStream, the real model and a real Qdrant Edge store:
work becomes points and ChunksEmbedded events, exactly once in effect."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID

import numpy as np
import pytest
import torch
from embedder_service.app import EmbedderService
from embedder_service.deadletter import follow_dead_letters
from embedder_service.model import BATCH_THREADS, EmbeddingModel
from embedder_service.query_batcher import QUERY_THREADS
from nats.js.api import AckPolicy, ConsumerConfig
from pydantic import BaseModel
from semantik_contracts import ErrorCode, EventEnvelope, RpcFailure
from semantik_contracts.events import ChunksEmbedded, CollectionDeleted, EmbeddingFailed
from semantik_contracts.search import EmbedQuery, QueryEmbeddings
from semantik_contracts.subjects import (
    EVENTS_STREAM,
    VECTOR_COUNT_RPC,
    VECTORS,
    WORK_STREAM,
    command_subject,
    embed_consumer_name,
    embed_query_subject,
    embed_work_subject,
    event_filter,
    model_slug,
)
from semantik_contracts.work import (
    ActivateGeneration,
    ChunkWork,
    CountVectors,
    CreateGeneration,
    DeleteDocumentPoints,
    Done,
    DropGeneration,
    EmbedChunks,
    SparseTerms,
    VectorCount,
    generation_name,
)
from semantik_runtime.bus import Bus
from semantik_runtime.sparse import document_vector
from semantik_runtime.vectors import VectorStore

pytestmark = pytest.mark.integration

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
SLUG = model_slug(MODEL)

ServiceFactory = Callable[..., Awaitable[EmbedderService]]


def work_for(
    collection_id: UUID,
    texts: list[str],
    *,
    document_id: UUID | None = None,
    generation: int = 1,
    replaces: list[UUID] | None = None,
) -> EmbedChunks:
    """The EmbedChunks ingest would publish for one document made of ``texts``."""
    document_id = document_id or uuid.uuid4()
    chunks = []
    for index, text in enumerate(texts):
        sparse = document_vector(text)
        chunks.append(
            ChunkWork(
                chunk_id=uuid.uuid5(document_id, str(index)),
                index=index,
                text=text,
                sparse=SparseTerms(indices=sparse.indices, values=sparse.values),
                payload={"path": f"/docs/{document_id}.txt"},
            )
        )
    return EmbedChunks(
        work_id=f"{document_id}:{generation}",
        operation_id=uuid.uuid4(),
        collection_id=collection_id,
        generation=generation,
        model=MODEL,
        document_id=document_id,
        chunks=chunks,
        replaces=replaces or [],
    )


async def publish(bus: Bus, work: EmbedChunks, msg_id: str | None = None) -> None:
    await bus.publish_work(embed_work_subject(SLUG), work, msg_id or work.work_id)


async def events_of(bus: Bus, event_type: str) -> list[EventEnvelope]:
    """Every event of ``event_type`` in the events stream, in order."""
    info = await bus.js.stream_info(
        EVENTS_STREAM, subjects_filter=event_filter(event_type=event_type)
    )
    total = sum((info.state.subjects or {}).values())
    if not total:
        return []
    sub = await bus.js.pull_subscribe(event_filter(event_type=event_type), stream=EVENTS_STREAM)
    found: list[EventEnvelope] = []
    while len(found) < total:
        found += [EventEnvelope.model_validate_json(m.data) for m in await sub.fetch(total)]
    await sub.unsubscribe()
    return found


async def embedded_events(bus: Bus) -> dict[UUID, ChunksEmbedded]:
    """The ChunksEmbedded events published so far, by document."""
    found = {}
    for envelope in await events_of(bus, "ChunksEmbedded"):
        assert isinstance(envelope.event, ChunksEmbedded)
        assert envelope.aggregate_type == "embedding"
        found[envelope.event.document_id] = envelope.event
    return found


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s")
        await asyncio.sleep(0.1)


async def embedded_count(bus: Bus, expected: int) -> bool:
    return len(await events_of(bus, "ChunksEmbedded")) >= expected


TEXTS = [
    "The telescope collected light from a galaxy ten billion light years away.",
    "Sourdough bread rises slowly because wild yeast ferments the dough overnight.",
    "A compiler translates source code into machine instructions.",
]


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
    await eventually(lambda: _queue_empty(private_bus), timeout=30)
    assert store.count(generation_name(work.collection_id, 1)) == 3
    assert len(await events_of(private_bus, "ChunksEmbedded")) == 1


async def _queue_empty(bus: Bus) -> bool:
    return (await bus.js.stream_info(WORK_STREAM)).state.messages == 0


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


@pytest.mark.parametrize("lanes", [None, 1])
async def test_batch_lanes_keep_their_own_threads_after_a_query(
    private_bus: Bus, start_embedder: ServiceFactory, lanes: int | None
) -> None:
    """The query thread sets one intra-op thread for itself, and torch hands that count
    to every thread that first uses it afterwards; the batch encoders set their own: on
    a CPU one lane per core with one thread each, or one lane with torch's default."""
    service = await start_embedder(lanes=lanes)
    await private_bus.request(
        embed_query_subject(SLUG), EmbedQuery(model=MODEL, texts=["a query"]), QueryEmbeddings
    )
    fresh: list[int] = []
    thread = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    assert fresh == [QUERY_THREADS]
    loop = asyncio.get_running_loop()
    threads = await loop.run_in_executor(service.worker.encoder_thread, torch.get_num_threads)
    if lanes == 1:
        assert (service.worker.lanes, threads) == (1, BATCH_THREADS)
    else:
        assert (service.worker.lanes, threads) == (BATCH_THREADS, 1)


async def test_query_embeddings_are_normalized_and_micro_batched(
    private_bus: Bus, start_embedder: ServiceFactory, model: EmbeddingModel
) -> None:
    await start_embedder()
    queries = [f"question number {i} about galaxies" for i in range(12)]

    async def ask(text: str) -> QueryEmbeddings:
        return await private_bus.request(
            embed_query_subject(SLUG), EmbedQuery(model=MODEL, texts=[text]), QueryEmbeddings
        )

    replies = await asyncio.gather(*(ask(q) for q in queries))
    expected = model.encode(queries)
    for reply, vector in zip(replies, expected, strict=True):
        assert (reply.model, reply.dimension, len(reply.vectors)) == (MODEL, 384, 1)
        got = np.array(reply.vectors[0])
        assert abs(np.linalg.norm(got) - 1.0) < 1e-4
        assert float(got @ vector) > 0.999  # each caller gets its own text's vector

    two = await private_bus.request(
        embed_query_subject(SLUG), EmbedQuery(model=MODEL, texts=["a", "b"]), QueryEmbeddings
    )
    assert len(two.vectors) == 2
    with pytest.raises(RpcFailure) as wrong_model:
        await private_bus.request(
            embed_query_subject(SLUG),
            EmbedQuery(model="other/all-MiniLM-L6-v3", texts=["a"]),
            QueryEmbeddings,
        )
    assert wrong_model.value.error.code == ErrorCode.INVALID


async def test_vector_commands_and_counts(
    private_bus: Bus, store: VectorStore, start_embedder: ServiceFactory
) -> None:
    await start_embedder()
    collection = uuid.uuid4()

    async def command(name: str, message: BaseModel) -> None:
        assert await private_bus.request(command_subject(VECTORS, name), message, Done) == Done()

    async def count(generation: int) -> int:
        query = CountVectors(collection_id=collection, generation=generation)
        return (await private_bus.request(VECTOR_COUNT_RPC, query, VectorCount)).count

    await command(
        "CreateGeneration", CreateGeneration(collection_id=collection, generation=2, dimension=384)
    )
    assert store.has_generation(generation_name(collection, 2))
    assert await count(2) == 0
    assert await count(7) == 0  # a generation that does not exist holds no vectors

    first, second = (
        work_for(collection, TEXTS, generation=2),
        work_for(collection, TEXTS[:2], generation=2),
    )
    await publish(private_bus, first)
    await publish(private_bus, second)
    await eventually(lambda: embedded_count(private_bus, 2))
    assert await count(2) == 5

    await command(
        "DeleteDocumentPoints",
        DeleteDocumentPoints(
            collection_id=collection, generation=2, document_ids=[first.document_id]
        ),
    )
    assert await count(2) == 2
    await command("ActivateGeneration", ActivateGeneration(collection_id=collection, generation=2))
    with pytest.raises(RpcFailure) as missing:
        await command(
            "ActivateGeneration", ActivateGeneration(collection_id=collection, generation=9)
        )
    assert missing.value.error.code == ErrorCode.NOT_FOUND
    await command("DropGeneration", DropGeneration(collection_id=collection, generation=2))
    assert not store.has_generation(generation_name(collection, 2))
    assert await count(2) == 0


async def test_a_deleted_collection_loses_every_generation(
    private_bus: Bus, store: VectorStore, start_embedder: ServiceFactory
) -> None:
    await start_embedder()
    doomed, other = uuid.uuid4(), uuid.uuid4()
    for work in (
        work_for(doomed, TEXTS),
        work_for(doomed, TEXTS, generation=2),
        work_for(other, TEXTS),
    ):
        await publish(private_bus, work)
    await eventually(lambda: embedded_count(private_bus, 3))

    await private_bus.publish_event(
        EventEnvelope(
            event_id=f"{doomed}:9",
            aggregate_type="collection",
            aggregate_id=doomed,
            version=9,
            occurred_at=datetime.now(UTC),
            event=CollectionDeleted(collection_id=doomed, deleted_by="u1"),
        )
    )

    async def dropped() -> bool:
        return not any(name.startswith(str(doomed)) for name in store.generations())

    await eventually(dropped)
    assert store.count(generation_name(other, 1)) == 3
    # Work still queued for the deleted collection does not bring a generation back.
    await publish(private_bus, work_for(doomed, TEXTS, generation=3))
    await eventually(lambda: _queue_empty(private_bus))
    assert await dropped()


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
    await eventually(lambda: _queue_empty(private_bus))  # terminated, not left to linger


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
    await eventually(lambda: _queue_empty(private_bus))
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
