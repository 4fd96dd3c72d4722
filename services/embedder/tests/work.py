"""What the embedder tests share: the work ingest would publish, and reading back the
events the embedder publishes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from uuid import UUID

from embedder_service.app import EmbedderService
from semantik_contracts import EventEnvelope
from semantik_contracts.events import ChunksEmbedded
from semantik_contracts.subjects import (
    EVENTS_STREAM,
    WORK_STREAM,
    embed_work_subject,
    event_filter,
    model_slug,
)
from semantik_contracts.work import ChunkWork, EmbedChunks, SparseTerms
from semantik_runtime.bus import Bus
from semantik_runtime.sparse import document_vector

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
    deadline = time.monotonic() + 60  # a fetch may end empty-handed (a 408): try again
    while len(found) < total:
        assert time.monotonic() < deadline, f"{len(found)} of {total} {event_type} read"
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


async def embedded_count(bus: Bus, expected: int) -> bool:
    return len(await events_of(bus, "ChunksEmbedded")) >= expected


TEXTS = [
    "The telescope collected light from a galaxy ten billion light years away.",
    "Sourdough bread rises slowly because wild yeast ferments the dough overnight.",
    "A compiler translates source code into machine instructions.",
]


async def queue_empty(bus: Bus) -> bool:
    return (await bus.js.stream_info(WORK_STREAM)).state.messages == 0
