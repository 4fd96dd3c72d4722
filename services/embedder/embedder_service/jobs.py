"""One work message in flight, and the pure functions that turn it into points and events."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from nats.aio.msg import Msg
from semantik_contracts import EventEnvelope
from semantik_contracts.events import ChunksEmbedded, EmbeddingFailed
from semantik_contracts.work import EmbedChunks, generation_name
from semantik_runtime.vectors import Point, SparseVector

#: Aggregate type of the events the embedder publishes (their subject carries it).
EMBEDDING = "embedding"


@dataclass(eq=False)
class Job:
    """An ``EmbedChunks`` message from its fetch to its ack.

    A large document may be encoded over several batches, which may finish in any
    order: ``pieces`` holds each batch's vectors under the index of its first chunk.
    """

    msg: Msg
    work: EmbedChunks
    traceparent: str | None = None
    taken: int = 0  # chunks handed to an encoding batch
    pieces: dict[int, np.ndarray] = field(default_factory=dict)
    failed: bool = False
    accepted_at: float = field(default_factory=time.time)  # start of its trace span

    @property
    def size(self) -> int:
        return len(self.work.chunks)

    @property
    def encoded(self) -> int:
        return sum(len(piece) for piece in self.pieces.values())

    @property
    def vectors(self) -> np.ndarray:
        """All chunks' vectors, once every piece is encoded."""
        if not self.pieces:
            return np.zeros((0, 0), dtype=np.float32)
        pieces = [self.pieces[first] for first in sorted(self.pieces)]
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    @property
    def generation(self) -> str:
        return generation_name(self.work.collection_id, self.work.generation)

    @property
    def deliveries(self) -> int:
        metadata = self.msg.metadata
        return (metadata.num_delivered or 1) if metadata else 1


def points_of(work: EmbedChunks, vectors: np.ndarray) -> list[Point]:
    """The points of one document: each chunk's vectors plus the payload search returns."""
    document_id = str(work.document_id)
    collection_id = str(work.collection_id)
    return [
        Point(
            id=str(chunk.chunk_id),
            dense=vector,
            sparse=SparseVector(chunk.sparse.indices, chunk.sparse.values),
            payload={
                **chunk.payload,
                "text": chunk.text,
                "document_id": document_id,
                "collection_id": collection_id,
                "chunk_index": chunk.index,
            },
        )
        for chunk, vector in zip(work.chunks, vectors, strict=True)
    ]


def embedded_event(
    work: EmbedChunks, traceparent: str | None = None, precision: str = "fp32"
) -> EventEnvelope:
    """``ChunksEmbedded`` with the work's message id as its event id, so a redelivery
    that is written again publishes no second event (the stream de-duplicates on it);
    work published again after it was lost (``attempt``) gets an id of its own, which
    the duplicate window does not drop, and counts once by its ``work_id``. ``precision``
    is what the vectors were encoded in (the collection records it)."""
    return EventEnvelope(
        event_id=work.message_id,
        aggregate_type=EMBEDDING,
        aggregate_id=work.document_id,
        version=work.generation,
        occurred_at=datetime.now(UTC),
        traceparent=traceparent,
        event=ChunksEmbedded(
            collection_id=work.collection_id,
            operation_id=work.operation_id,
            document_id=work.document_id,
            generation=work.generation,
            chunk_count=len(work.chunks),
            work_id=work.work_id,
            precision=precision,
        ),
    )


def failed_event(work: EmbedChunks, reason: str, traceparent: str | None = None) -> EventEnvelope:
    """``EmbeddingFailed`` (the dead letter); both dead-letter paths share its id."""
    return EventEnvelope(
        event_id=f"{work.message_id}:failed",
        aggregate_type=EMBEDDING,
        aggregate_id=work.document_id,
        version=work.generation,
        occurred_at=datetime.now(UTC),
        traceparent=traceparent,
        event=EmbeddingFailed(
            collection_id=work.collection_id,
            operation_id=work.operation_id,
            document_id=work.document_id,
            generation=work.generation,
            chunk_count=len(work.chunks),
            reason=reason,
            work_id=work.work_id,
        ),
    )
