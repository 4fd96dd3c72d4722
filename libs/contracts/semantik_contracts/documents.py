"""One document as a person reads it (SPEC §6): the query that pages through its
chunks in the vector store, and the document the gateway answers."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from .base import Message
from .enums import DocumentStatus


class ReadDocumentChunks(Message):
    """One page of a document's chunks in one generation (the search service reads)."""

    collection_id: UUID
    generation: int = Field(ge=1)
    document_id: UUID
    limit: int = Field(100, ge=1, le=500, description="Chunks on this page, at most")
    after: UUID | None = Field(
        None, description="The ``next`` of the previous page; None for the first page"
    )


class StoredChunk(Message):
    index: int = Field(ge=0, description="Its place in the document")
    text: str


class DocumentChunks(Message):
    """Reply of ``ReadDocumentChunks``: chunks in the store's order, not by index."""

    chunks: list[StoredChunk]
    payload: dict[str, Any] = Field(
        default_factory=dict,
        description="What the first chunk of the page carries besides its text "
        "(path, file type, a record's columns, ...)",
    )
    next: UUID | None = Field(None, description="Token of the next page; None after the last")


class ChunkSpan(Message):
    index: int = Field(ge=0)
    start: int = Field(ge=0, description="Character offset of its first character in text")
    end: int = Field(ge=0, description="Character offset just after its last one")


class DocumentDetail(Message):
    """``GET /api/v2/collections/{id}/documents/{document_id}``: metadata, the extracted
    text and where each chunk lies in it."""

    id: UUID
    collection_id: UUID
    source_id: UUID | None = None
    path: str
    file_type: str = ""
    mime: str = ""
    size: int = Field(0, description="Bytes of the file, or of the record's text")
    status: DocumentStatus
    chunk_count: int = Field(0, description="Chunks as indexed (ingest's count)")
    text: str = Field(description="The extracted text, reassembled from the chunks")
    chunks: list[ChunkSpan]
    truncated: bool = Field(
        False, description="True when the document has more chunks than one answer holds"
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="A record's columns (``columns``), its row and record id, its file",
    )
