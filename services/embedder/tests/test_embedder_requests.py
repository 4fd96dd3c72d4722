"""The embedder's requests over a real NATS JetStream, the real model and a real Qdrant
Edge store: query embeddings, vector commands and counts, and a deleted collection's
generations dropped."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
import torch
from embedder_service.model import BATCH_THREADS, EmbeddingModel
from embedder_service.query_batcher import QUERY_THREADS
from pydantic import BaseModel
from semantik_contracts import ErrorCode, EventEnvelope, RpcFailure
from semantik_contracts.events import CollectionDeleted
from semantik_contracts.search import EmbedQuery, QueryEmbeddings
from semantik_contracts.subjects import (
    VECTOR_COUNT_RPC,
    VECTORS,
    command_subject,
    embed_query_subject,
)
from semantik_contracts.work import (
    ActivateGeneration,
    CountVectors,
    CreateGeneration,
    DeleteDocumentPoints,
    Done,
    DropGeneration,
    VectorCount,
    generation_name,
)
from semantik_runtime.bus import Bus
from semantik_runtime.vectors import VectorStore

from services.embedder.tests.work import (
    MODEL,
    SLUG,
    TEXTS,
    ServiceFactory,
    embedded_count,
    publish,
    queue_empty,
    work_for,
)
from tests.waiting import eventually

pytestmark = pytest.mark.integration


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
    await eventually(lambda: queue_empty(private_bus))
    assert await dropped()
