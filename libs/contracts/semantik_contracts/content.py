"""The original file of a document (``GET …/documents/{document_id}/content``), read
from ingest a piece at a time.

The gateway asks ``ReadDocumentContent`` once per piece, after the collections service
allowed the caller to read the collection. The reply is one NATS message: the JSON of a
``Reply[ContentPiece]``, a line break (JSON has none of its own), then the piece's bytes.
A piece per request keeps every reply within NATS's one-reply rule (``allow_responses``)
and gives back-pressure for free: the gateway asks for the next piece when the HTTP
client has taken the one before. Every piece is read again by the rules of the first
(the path re-validated, the same file: ``expect``), so a file swapped during a download
ends it rather than mixing two files.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from .base import Message
from .enums import SourceKind

#: Bytes of one piece at most: half of NATS's default ``max_payload`` (1 MiB).
PIECE_BYTES = 512 * 1024
#: What separates the reply's JSON from the piece's bytes.
SEPARATOR = b"\n"


class ContentSource(Message):
    """A live source of the collection, as the collections service records it."""

    id: UUID
    kind: SourceKind
    path: str = Field(max_length=4096)


class FileIdentity(Message):
    """Which file a piece was read from: a download reads one file from end to end."""

    size: int = Field(ge=0)
    mtime_ns: int
    device: int
    inode: int


class ReadDocumentContent(Message):
    """Asked of ingest: ``length`` bytes of the document's original file from ``offset``.

    ``sources`` are the collection's live sources (the document's must be one of them);
    ``expect`` is the file as the first piece found it (None for the first piece)."""

    collection_id: UUID
    document_id: UUID
    sources: list[ContentSource] = Field(max_length=10_000)
    offset: int = Field(0, ge=0)
    length: int = Field(PIECE_BYTES, ge=1, le=PIECE_BYTES)
    expect: FileIdentity | None = None


class ContentPiece(Message):
    """What the bytes after the reply's JSON are: a piece of the document's file."""

    source_id: UUID = Field(description="The source the document is a file of")
    name: str = Field(description="The file's name (its last path component)")
    mime: str = Field(description="Its media type, as indexed; empty when unknown")
    file: FileIdentity
    offset: int = Field(ge=0)
    length: int = Field(ge=0, description="Bytes of this piece")
    eof: bool = Field(description="True when this piece ends the file")
    stale: bool | None = Field(
        None,
        description="On the first piece: whether the file differs from the one indexed "
        "(size or SHA-256); None when that cannot be told (a record's file)",
    )
