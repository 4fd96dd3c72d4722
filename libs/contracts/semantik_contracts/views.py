"""Read models returned by queries (the gateway's ``Public`` schemas build on these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .base import Message
from .enums import (
    CollectionRole,
    CollectionStatus,
    DocumentStatus,
    OperationStatus,
    OperationType,
    PrincipalType,
    SourceKind,
)
from .sync import OperationTrigger, SourceSync, SyncStatus
from .work import generation_name

T = TypeVar("T")


class CollectionView(Message):
    id: UUID
    name: str
    description: str = ""
    owner: str
    model_name: str
    model_dimension: int
    status: CollectionStatus
    status_reason: str = ""
    chunk_size: int
    chunk_overlap: int
    document_count: int = 0
    chunk_count: int = 0
    size_bytes: int = Field(0, description="Bytes of the documents it holds")
    vector_count: int = Field(0, description="Read from the vector store by the gateway")
    active_generation: int | None = None
    staging_generation: int | None = None
    embed_precision: str | None = Field(
        None,
        description="What the searched generation's vectors were encoded in: fp32, bf16, "
        "int8 (CPU) or fp16 (GPU), '+'-joined if several embedders differed; null before "
        "any were embedded. A reindex after changing SEMANTIK_EMBED_PRECISION changes it",
        examples=["fp32", "int8"],
    )
    active_operation_id: UUID | None = None
    created_at: datetime
    updated_at: datetime
    my_role: CollectionRole | None = Field(
        None, description="The asking user's role on it: owner, editor or viewer"
    )

    @property
    def active_generation_name(self) -> str | None:
        if self.active_generation is None:
            return None
        return generation_name(self.id, self.active_generation)


class Grant(Message):
    principal_type: PrincipalType
    principal_id: str
    role: CollectionRole


class CollectionAccess(Message):
    """Who may do what on a collection: its owner, and the roles granted to others."""

    collection_id: UUID
    owner: str
    grants: list[Grant] = Field(default_factory=list)


class Failure(Message):
    path: str
    reason: str


class OperationView(Message):
    id: UUID
    collection_id: UUID
    type: OperationType
    status: OperationStatus
    queue_position: int | None = Field(
        None, description="While queued: its place in the collection's queue, 1 = next"
    )
    progress: float = 0.0
    processed: int = 0
    total: int = 0
    skipped: int = 0
    failed: int = 0
    message: str = ""
    error: str | None = None
    stats: dict[str, Any] = Field(default_factory=dict)
    failures: list[Failure] = Field(default_factory=list)
    requested_by: str = ""
    trigger: OperationTrigger = Field(
        OperationTrigger.USER, description="What started it: user, watch or schedule"
    )
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None


class SourceVersion(Message):
    """One uploaded version of an upload source's file."""

    version: int = Field(ge=1)
    size: int = Field(ge=0, description="Bytes of the file")
    uploaded_at: datetime


class SourceView(Message):
    id: UUID
    collection_id: UUID
    kind: SourceKind
    path: str
    text_columns: list[str] = Field(default_factory=list)
    context_columns: list[str] = Field(default_factory=list)
    id_column: str | None = None
    created_at: datetime
    sync: SourceSync = Field(default_factory=SourceSync, description="Watch and schedule")
    sync_status: SyncStatus = Field(
        SyncStatus.OFF, description="off, pending, active or stopped (sync_reason says why)"
    )
    sync_reason: str = Field("", description="Why its sync stopped, in words the user can act on")
    last_sync_at: datetime | None = Field(
        None, description="When the watcher or the schedule last asked for an index of it"
    )
    next_sync_at: datetime | None = Field(
        None, description="When the schedule re-scans it next; null without a schedule"
    )
    versions: list[SourceVersion] = Field(
        default_factory=list,
        description="An upload's versions, oldest first; the last is the one indexed",
    )


class SourceAndOperation(Message):
    source: SourceView
    operation: OperationView


class Page(BaseModel, Generic[T]):
    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[T]
    total: int
    limit: int
    offset: int


class DocumentView(Message):
    """A document of a collection, or a file of a source that failed to become one."""

    id: UUID | None = Field(None, description="uuid5(collection_id, sha256); none if failed")
    path: str = Field(description="File path, or <file>#<record key> for a row")
    source_id: UUID | None = None
    status: DocumentStatus
    reason: str = Field("", description="Why it failed, in words the user can act on")
    size: int = 0
    mime: str = ""
    chunk_count: int = 0
    embedded_chunks: int = 0
    operation_id: UUID | None = Field(None, description="The operation that last indexed it")


class CollectionList(Message):
    """Reply of ``GetCollections``: the collections asked for, in that order."""

    items: list[CollectionView]


class SourceList(Message):
    """Reply of ``ListSources``: every source of one collection, oldest first."""

    items: list[SourceView]


class AuditEntry(Message):
    """One line of the audit log: who, when, what, and how it ended."""

    id: UUID
    at: datetime
    actor: str = Field(description="User id, or 'system' for what the system did")
    action: str = Field(examples=["collection.create", "operation.cancel", "operation.failed"])
    outcome: str = Field(description="accepted, rejected, completed or failed")
    collection_id: UUID | None = None
    target_id: UUID | None = None
    code: str | None = Field(None, description="Error code of a rejected command")
    message: str = ""


class Usage(Message):
    """What one user holds, against the quotas."""

    collections: int
    max_collections: int
    documents: int
    chunks: int
    size_bytes: int
    collection_size_limit_bytes: int
    active_operations: int


class ProjectionsRebuilt(Message):
    """Reply of ``RebuildProjections``: the read models before and after."""

    position: int = Field(description="Last notification folded")
    collections: int
    operations: int
    sources: int
    audit_entries: int
    digest_before: str
    digest_after: str
    seconds: float

    @property
    def unchanged(self) -> bool:
        return self.digest_before == self.digest_after
