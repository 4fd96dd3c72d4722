"""Work items on ``SEMANTIK_WORK`` and vector commands to the embedder (the only writer)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from .base import Message


class SparseTerms(Message):
    """BM25 term weights; the vector store applies IDF."""

    indices: list[int]
    values: list[float]


class ChunkWork(Message):
    chunk_id: UUID = Field(description="uuid5(document_id, chunk_index): the point id")
    index: int = Field(ge=0)
    text: str
    header: str = Field(
        "",
        description="Read before ``text`` when the chunk is embedded, not stored with it: "
        "the document's title (a record's, or a file's) for a chunk after the first, which "
        "the title does not begin "
        "(``sparse`` counts its terms too)",
    )
    sparse: SparseTerms
    payload: dict[str, Any] = Field(default_factory=dict)

    @property
    def embedded_text(self) -> str:
        """What the embedder encodes."""
        return headed(self.header, self.text)


def headed(header: str, text: str) -> str:
    """A chunk's text as its vectors read it: its header, if any, before it."""
    return f"{header}\n\n{text}" if header else text


class EmbedChunks(Message):
    """Embed one document's chunks into one generation of a collection."""

    work_id: str = Field(description="Stable id, used as Nats-Msg-Id and in ChunksEmbedded")
    operation_id: UUID
    collection_id: UUID
    generation: int = Field(ge=1)
    model: str
    document_id: UUID
    chunks: list[ChunkWork]
    replaces: list[UUID] = Field(
        default_factory=list,
        description="Documents whose points are deleted once these chunks are written",
    )
    attempt: str = Field(
        "",
        description="Set when the work is published again after it was lost "
        "(ResumeWork): the message and its ChunksEmbedded get ids of their own, which "
        "the streams' duplicate windows do not drop; work_id stays the counting key",
    )

    @property
    def message_id(self) -> str:
        """Its ``Nats-Msg-Id`` (and its ``ChunksEmbedded``'s event id)."""
        return f"{self.work_id}:{self.attempt}" if self.attempt else self.work_id


def generation_name(collection_id: UUID, generation: int) -> str:
    """Physical collection (server) or shard (Edge) of one generation."""
    return f"{collection_id}_g{generation}"


def collection_alias(collection_id: UUID) -> str:
    """Server alias of a collection's active generation, for readers outside Semantik."""
    return f"semantik_{collection_id}"


class CreateGeneration(Message):
    collection_id: UUID
    generation: int = Field(ge=1)
    dimension: int = Field(gt=0)


class DropGeneration(Message):
    collection_id: UUID
    generation: int = Field(ge=1)


class ActivateGeneration(Message):
    """Moves the server alias ``semantik_<collection_id>`` (outside readers only)."""

    collection_id: UUID
    generation: int = Field(ge=1)


class DeleteDocumentPoints(Message):
    collection_id: UUID
    generation: int = Field(ge=1)
    document_ids: list[UUID]


class CountVectors(Message):
    collection_id: UUID
    generation: int = Field(ge=1)


class VectorCount(Message):
    count: int = Field(ge=0)


class SampleChunks(Message):
    """A few chunk texts of one generation: the queries that validate a reindex."""

    collection_id: UUID
    generation: int = Field(ge=1)
    limit: int = Field(5, ge=1, le=100)


class SampledChunks(Message):
    texts: list[str]


class Done(Message):
    """Empty success result of a command."""
