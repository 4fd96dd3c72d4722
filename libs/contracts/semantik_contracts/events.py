"""The event catalogue (SPEC §3). Names are the contract; every event of a collection
carries ``collection_id`` so that its subject can be built without other state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from .base import Event
from .enums import (
    CollectionRole,
    CollectionStatus,
    OperationStatus,
    OperationType,
    PrincipalType,
    SkipReason,
    SourceKind,
)
from .sync import OperationTrigger, SourceSync, SyncStatus

CollectionId = Annotated[UUID, Field(description="Collection the event belongs to")]
OperationId = Annotated[UUID, Field(description="Operation that caused the event")]


# -- Collection -------------------------------------------------------------------------
class CollectionCreated(Event):
    type: Literal["CollectionCreated"] = "CollectionCreated"
    collection_id: CollectionId
    name: str = Field(description="Display name, unique per owner")
    description: str = Field("", description="Free text shown in the dashboard")
    owner: str = Field(description="User id of the owner")
    model_name: str = Field(
        description="Embedding model", examples=["sentence-transformers/all-MiniLM-L6-v2"]
    )
    model_dimension: int = Field(description="Dimension of the model's dense vectors")
    chunk_size: int = Field(description="Chunk size in model tokens")
    chunk_overlap: int = Field(description="Overlap between chunks in model tokens")


class CollectionUpdated(Event):
    type: Literal["CollectionUpdated"] = "CollectionUpdated"
    collection_id: CollectionId
    name: str
    description: str


class CollectionStatusChanged(Event):
    type: Literal["CollectionStatusChanged"] = "CollectionStatusChanged"
    collection_id: CollectionId
    status: CollectionStatus
    previous_status: CollectionStatus | None = None
    reason: str = Field("", description="Why the status changed, shown to the user")


class CollectionCountsChanged(Event):
    type: Literal["CollectionCountsChanged"] = "CollectionCountsChanged"
    collection_id: CollectionId
    document_count: int = Field(ge=0)
    chunk_count: int = Field(ge=0)
    size_bytes: int = Field(0, ge=0, description="Bytes of the documents (since schema v2)")


class GenerationCreated(Event):
    type: Literal["GenerationCreated"] = "GenerationCreated"
    collection_id: CollectionId
    generation: int = Field(ge=1, description="Vector generation number")
    model_name: str
    model_dimension: int
    chunk_size: int
    chunk_overlap: int


class GenerationActivated(Event):
    type: Literal["GenerationActivated"] = "GenerationActivated"
    collection_id: CollectionId
    generation: int = Field(ge=1)
    previous_generation: int | None = None


class GenerationDropped(Event):
    type: Literal["GenerationDropped"] = "GenerationDropped"
    collection_id: CollectionId
    generation: int = Field(ge=1)


class CollectionDeleted(Event):
    type: Literal["CollectionDeleted"] = "CollectionDeleted"
    collection_id: CollectionId
    deleted_by: str = ""


class AccessGranted(Event):
    """A user or a team was given a role on the collection (or a new one)."""

    type: Literal["AccessGranted"] = "AccessGranted"
    collection_id: CollectionId
    principal_type: PrincipalType
    principal_id: str
    role: CollectionRole
    granted_by: str = Field(description="User id of the owner who granted it")


class AccessRevoked(Event):
    """A user's or a team's role on the collection was taken back: effective at once."""

    type: Literal["AccessRevoked"] = "AccessRevoked"
    collection_id: CollectionId
    principal_type: PrincipalType
    principal_id: str
    revoked_by: str


# -- Source -----------------------------------------------------------------------------
class SourceAdded(Event):
    type: Literal["SourceAdded"] = "SourceAdded"
    collection_id: CollectionId
    source_id: UUID
    kind: SourceKind
    path: str = Field(description="Directory or file on the server, or the stored upload")
    text_columns: list[str] = Field(default_factory=list, description="Record columns to embed")
    context_columns: list[str] = Field(
        default_factory=list, description="Record columns kept as filterable payload"
    )
    id_column: str | None = Field(None, description="Record column kept as metadata.record_id")
    sync: SourceSync = Field(default_factory=SourceSync, description="Off in older events")


class SourceSyncChanged(Event):
    type: Literal["SourceSyncChanged"] = "SourceSyncChanged"
    collection_id: CollectionId
    source_id: UUID
    sync: SourceSync


class SourceSyncStatusChanged(Event):
    """Ingest's watcher of the source started, or stopped (``reason`` says why)."""

    type: Literal["SourceSyncStatusChanged"] = "SourceSyncStatusChanged"
    collection_id: CollectionId
    source_id: UUID
    status: SyncStatus
    reason: str = ""


class SourceSyncRequested(Event):
    """The watcher or the schedule asked for the source to be indexed again."""

    type: Literal["SourceSyncRequested"] = "SourceSyncRequested"
    collection_id: CollectionId
    source_id: UUID
    trigger: OperationTrigger
    operation_id: UUID


class SourceColumnsChanged(Event):
    type: Literal["SourceColumnsChanged"] = "SourceColumnsChanged"
    collection_id: CollectionId
    source_id: UUID
    text_columns: list[str]
    context_columns: list[str]
    id_column: str | None = None


class SourceVersionAdded(Event):
    """An uploaded file's name uploaded again: a new version of the same source."""

    type: Literal["SourceVersionAdded"] = "SourceVersionAdded"
    collection_id: CollectionId
    source_id: UUID
    version: int = Field(ge=1)
    size: int = Field(ge=0, description="Bytes of this version's file")
    at: datetime


class SourceRemoved(Event):
    type: Literal["SourceRemoved"] = "SourceRemoved"
    collection_id: CollectionId
    source_id: UUID


# -- Operation --------------------------------------------------------------------------
class OperationSource(BaseModel):
    """A source as an operation reads it, described when the operation starts."""

    source_id: UUID
    kind: SourceKind
    path: str = Field(description="Directory or file on the server, or the stored upload")
    text_columns: list[str] = Field(default_factory=list, description="Record columns to embed")
    context_columns: list[str] = Field(
        default_factory=list, description="Record columns kept as filterable payload"
    )
    id_column: str | None = Field(None, description="Record column kept as metadata.record_id")
    removed: bool = Field(
        False, description="Removed before the operation started (it waited): not scanned"
    )


class OperationRequested(Event):
    type: Literal["OperationRequested"] = "OperationRequested"
    collection_id: CollectionId
    operation_id: UUID
    operation_type: OperationType
    params: dict[str, Any] = Field(default_factory=dict)
    requested_by: str
    source_ids: list[UUID] = Field(default_factory=list, description="Sources to scan")
    generation: int = Field(1, description="Vector generation the operation writes to")
    model_name: str = ""
    chunk_size: int = 0
    chunk_overlap: int = 0
    sources: list[OperationSource] = Field(
        default_factory=list,
        description=(
            "The sources it reads, as they were when it started (schema 2; empty before): "
            "those of source_ids and, for remove_source, the collection's other sources"
        ),
    )


class OperationQueued(Event):
    """The collection was busy: the operation waits in its queue (SPEC §12). Its
    ``OperationRequested`` follows when it reaches the head and the running one ends."""

    type: Literal["OperationQueued"] = "OperationQueued"
    collection_id: CollectionId
    operation_id: UUID
    operation_type: OperationType
    params: dict[str, Any] = Field(default_factory=dict)
    requested_by: str
    source_ids: list[UUID] = Field(default_factory=list, description="Sources to scan")
    queue_position: int = Field(ge=1, description="Its place in the queue when queued; 1 is next")


class OperationStarted(Event):
    type: Literal["OperationStarted"] = "OperationStarted"
    collection_id: CollectionId
    operation_id: UUID


class OperationProgressed(Event):
    type: Literal["OperationProgressed"] = "OperationProgressed"
    collection_id: CollectionId
    operation_id: UUID
    status: OperationStatus
    progress: float = Field(ge=0.0, le=1.0)
    processed: int = Field(0, description="Chunks embedded so far")
    total: int = Field(0, description="Chunks expected (known once the scan completed)")
    skipped: int = 0
    failed: int = 0
    message: str = ""


class OperationCompleted(Event):
    type: Literal["OperationCompleted"] = "OperationCompleted"
    collection_id: CollectionId
    operation_id: UUID
    stats: dict[str, Any] = Field(default_factory=dict)


class OperationFailed(Event):
    type: Literal["OperationFailed"] = "OperationFailed"
    collection_id: CollectionId
    operation_id: UUID
    error: str


class OperationCancelled(Event):
    type: Literal["OperationCancelled"] = "OperationCancelled"
    collection_id: CollectionId
    operation_id: UUID
    reason: str = ""


# -- Document (ingest's registry) --------------------------------------------------------
class DocumentRegistered(Event):
    type: Literal["DocumentRegistered"] = "DocumentRegistered"
    collection_id: CollectionId
    document_id: UUID = Field(description="uuid5(collection_id, sha256)")
    operation_id: OperationId
    source_id: UUID
    path: str
    sha256: str
    size: int
    mime: str
    chunk_count: int


class DocumentSkipped(Event):
    type: Literal["DocumentSkipped"] = "DocumentSkipped"
    collection_id: CollectionId
    operation_id: OperationId
    source_id: UUID
    path: str
    reason: SkipReason
    document_id: UUID | None = None


class DocumentFailed(Event):
    type: Literal["DocumentFailed"] = "DocumentFailed"
    collection_id: CollectionId
    operation_id: OperationId
    source_id: UUID | None = None
    path: str
    reason: str


class DocumentSuperseded(Event):
    type: Literal["DocumentSuperseded"] = "DocumentSuperseded"
    collection_id: CollectionId
    document_id: UUID
    previous_id: UUID
    operation_id: OperationId


class DocumentRemoved(Event):
    type: Literal["DocumentRemoved"] = "DocumentRemoved"
    collection_id: CollectionId
    document_id: UUID
    operation_id: OperationId
    path: str = ""
    chunk_count: int = 0


class ScanStarted(Event):
    type: Literal["ScanStarted"] = "ScanStarted"
    collection_id: CollectionId
    operation_id: OperationId


class ScanStats(Event):
    """Scan statistics of SPEC §4, plus what the process manager needs to finish."""

    total_files_found: int = 0
    new_documents: int = 0
    duplicates_skipped: int = 0
    unchanged_skipped: int = 0
    failed: int = 0
    removed: int = 0
    bytes: int = 0
    chunks: int = Field(0, description="Chunks published for embedding by this scan")
    removed_chunks: int = 0
    removed_bytes: int = Field(0, description="Bytes of the documents this scan removed")
    stopped: bool = Field(
        False, description="The scan stopped early: its operation was cancelled or failed"
    )
    reindexed_documents: int = Field(
        0, description="Unchanged documents a reindex embedded again into its new generation"
    )


class ScanProgressed(Event):
    """A long scan's progress, at most about once a second while it runs."""

    type: Literal["ScanProgressed"] = "ScanProgressed"
    collection_id: CollectionId
    operation_id: OperationId
    files_found: int = Field(description="Files listed in the scan's sources")
    files_done: int = Field(description="Files decided so far (indexed, skipped or failed)")
    stats: ScanStats = Field(description="The scan's statistics so far")


class ScanCompleted(Event):
    type: Literal["ScanCompleted"] = "ScanCompleted"
    collection_id: CollectionId
    operation_id: OperationId
    stats: ScanStats


# -- Embedding (published directly by the stateless embedder) ---------------------------
class ChunksEmbedded(Event):
    type: Literal["ChunksEmbedded"] = "ChunksEmbedded"
    collection_id: CollectionId
    operation_id: OperationId
    document_id: UUID
    generation: int
    chunk_count: int
    work_id: str
    precision: str = Field(
        "fp32",
        pattern=r"^[a-z0-9]{1,16}$",
        description="What the encoder multiplied in: fp32, bf16, int8 (CPU) or fp16 (GPU); "
        "fp32 from embedders older than this field",
    )


class EmbeddingFailed(Event):
    type: Literal["EmbeddingFailed"] = "EmbeddingFailed"
    collection_id: CollectionId
    operation_id: OperationId
    document_id: UUID
    generation: int
    chunk_count: int
    reason: str
    work_id: str


AnyEvent = Annotated[
    CollectionCreated
    | CollectionUpdated
    | CollectionStatusChanged
    | CollectionCountsChanged
    | GenerationCreated
    | GenerationActivated
    | GenerationDropped
    | CollectionDeleted
    | AccessGranted
    | AccessRevoked
    | SourceAdded
    | SourceColumnsChanged
    | SourceSyncChanged
    | SourceSyncStatusChanged
    | SourceSyncRequested
    | SourceVersionAdded
    | SourceRemoved
    | OperationRequested
    | OperationQueued
    | OperationStarted
    | OperationProgressed
    | OperationCompleted
    | OperationFailed
    | OperationCancelled
    | DocumentRegistered
    | DocumentSkipped
    | DocumentFailed
    | DocumentSuperseded
    | DocumentRemoved
    | ScanStarted
    | ScanProgressed
    | ScanCompleted
    | ChunksEmbedded
    | EmbeddingFailed,
    Field(discriminator="type"),
]

EVENT_TYPES: dict[str, type[Event]] = {
    cls.model_fields["type"].default: cls
    for cls in Event.__subclasses__()
    if "type" in cls.model_fields
}
