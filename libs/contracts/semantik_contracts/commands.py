"""Commands to the collections service (``semantik.cmd.collections.<Command>``).

``actor`` is the authenticated user id and ``teams`` the teams they belong to; the
collections service enforces the roles they hold on each collection (SPEC §11).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, Field

from .base import Message
from .enums import CollectionRole, DocumentStatus, OperationType, PrincipalType, SourceKind
from .sync import OperationTrigger, SourceSync, SyncStatus


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


#: Text with at least one character that is not white space (a collection's name).
NonBlank = Annotated[str, AfterValidator(_not_blank)]


#: The directories a path may come from: the source roots an admin granted to the actor
#: or their team, each inside the configured roots; None: any configured root (an admin).
GrantedRoots = Annotated[
    list[str] | None,
    Field(
        max_length=1000,
        description="Only under these directories (the source roots granted to the actor or "
        "their team); None: any configured root (an admin)",
    ),
]


class Actor(Message):
    """A command or query made on a user's behalf. Only the gateway sends them: it sets
    ``actor`` from the verified token and ``teams`` from its own records."""

    actor: str = Field(min_length=1, max_length=100, description="The user's id")
    teams: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Ids of the teams the user belongs to: their grants count too",
    )


class CreateCollection(Actor):
    name: NonBlank = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    model_name: str | None = Field(None, description="Embedding model; the default if omitted")
    chunk_size: int | None = Field(None, ge=32, le=8192)
    chunk_overlap: int | None = Field(None, ge=0, le=4096)


class UpdateCollection(Actor):
    collection_id: UUID
    name: NonBlank | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)


class DeleteCollection(Actor):
    collection_id: UUID


class AddSource(Actor):
    collection_id: UUID
    path: str = Field(min_length=1, description="Directory or file on the server")
    kind: SourceKind = SourceKind.DIRECTORY
    text_columns: list[str] = Field(default_factory=list)
    context_columns: list[str] = Field(default_factory=list)
    id_column: str | None = None
    roots: GrantedRoots = None
    sync: SourceSync = Field(default_factory=SourceSync, description="Watch and schedule")
    upload_size: int | None = Field(
        None, ge=0, description="An upload's bytes: the source's first version (or next)"
    )
    as_version: bool = Field(
        False, description="An upload whose file is already a source: its next version"
    )


class ChangeSourceSync(Actor):
    """New sync settings of a source (SPEC §12); nothing is re-embedded."""

    collection_id: UUID
    source_id: UUID
    sync: SourceSync


class ChangeSourceColumns(Actor):
    collection_id: UUID
    source_id: UUID
    text_columns: list[str]
    context_columns: list[str] = Field(default_factory=list)
    id_column: str | None = None


class RemoveSource(Actor):
    collection_id: UUID
    source_id: UUID


class StartOperation(Actor):
    collection_id: UUID
    operation_type: OperationType
    params: dict[str, Any] = Field(default_factory=dict)


class CancelOperation(Actor):
    operation_id: UUID


class GrantAccess(Actor):
    """Give a user or a team a role on a collection (the owner's right)."""

    collection_id: UUID
    principal_type: PrincipalType
    principal_id: str = Field(min_length=1, max_length=100)
    role: CollectionRole


class RevokeAccess(Actor):
    collection_id: UUID
    principal_type: PrincipalType
    principal_id: str = Field(min_length=1, max_length=100)


# -- queries ---------------------------------------------------------------------------
class GetCollection(Actor):
    collection_id: UUID


class GetAccess(Actor):
    """Who may do what on a collection (its owner and grants)."""

    collection_id: UUID


class GetCollections(Actor):
    """Several collections at once, in the order asked (a search resolves its targets
    in one round trip); any unknown or foreign one fails the whole query (404/403)."""

    collection_ids: list[UUID] = Field(min_length=1, max_length=50)


class ListCollections(Actor):
    status: str | None = None
    name: str | None = Field(
        None, max_length=200, description="Only names containing this, in any letter case"
    )
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class GetOperation(Actor):
    operation_id: UUID


class ListOperations(Actor):
    collection_id: UUID | None = None
    status: str | None = None
    operation_type: str | None = Field(None, description="index, append, reindex, …")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class ListSources(Actor):
    collection_id: UUID


class GetAudit(Actor):
    """The actor's audit log, newest first."""

    outcome: str | None = Field(None, description="accepted, rejected, completed or failed")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class GetUsage(Actor):
    """The actor's own collections' counts against the quotas."""


class RebuildProjections(Message):
    """Drop the read models and fold the whole event log again (operators' command)."""


# -- sync (ingest's watchers and schedules ask the collections service) ----------------
class ListSyncedSources(Message):
    """Every live source whose sync is on (watched or scheduled), in all collections."""


class SyncSource(Message):
    """Ingest saw a source change (or its schedule came due): index that source alone.
    A source that has a queued operation already gets no second one (the queued one
    will see the change); the reply is then that queued operation."""

    collection_id: UUID
    source_id: UUID
    trigger: OperationTrigger


class RescanSource(Actor):
    """A user's re-scan of one source now: an incremental ``index`` of that source alone
    (trigger ``user``), queued behind a running operation. A source that has a queued
    index already gets that one back."""

    collection_id: UUID
    source_id: UUID


class ReportSyncStatus(Message):
    """Ingest's watcher of a source started, or stopped and why (its folder is gone)."""

    collection_id: UUID
    source_id: UUID
    status: SyncStatus
    reason: str = Field("", max_length=1000)


# -- ingest ----------------------------------------------------------------------------
class ValidateSource(Message):
    """Asked of ingest before a source is recorded: is this path allowed and readable, and
    (for a record file) are the named columns in it?"""

    path: str = Field(min_length=1, max_length=4096)
    text_columns: list[str] = Field(default_factory=list)
    context_columns: list[str] = Field(default_factory=list)
    id_column: str | None = None
    roots: GrantedRoots = None


class ValidatedSource(Message):
    path: str = Field(description="The resolved absolute path")
    kind: SourceKind
    columns: list[str] = Field(
        default_factory=list,
        description="A record file's usable columns (blank and repeated headers skipped)",
    )


class ResumeWork(Message):
    """Asked of ingest by the operation watchdog: an operation made no progress for a
    while, so its embed work may have been lost on the bus (SPEC §2: the event store is
    the truth). Ingest publishes again the work of the operation's documents that is not
    known to be done, and resumes its scan if it stopped; work ids stay the same, so what
    was only late is counted once."""

    operation_id: UUID
    collection_id: UUID
    done: list[str] = Field(
        default_factory=list,
        description="Work ids the operation has counted (embedded or failed) already, of "
        "the documents this request covers",
    )
    documents_prefix: str = Field(
        "",
        max_length=4,
        pattern="^[0-9a-f]*$",
        description="Only documents whose id starts with this: a large operation is "
        "resumed in parts, each request under the bus's message size",
    )
    attempt: str = Field(
        min_length=1,
        max_length=64,
        description="Tag of this resumption: the republished work's message ids carry it, "
        "so the streams' duplicate windows do not drop them",
    )


class WorkResumed(Message):
    republished: int = Field(description="Work items published again")
    failed: int = Field(0, description="Documents that failed: their file vanished or changed")
    scan_resumed: bool = Field(False, description="The operation's scan was started again")
    queued: bool = Field(
        False, description="Work of the model is still queued: embedders are behind, not lost"
    )


class ListDocuments(Message):
    """Asked of ingest (after the gateway checked ownership): a collection's documents."""

    collection_id: UUID
    source_ids: list[UUID] | None = Field(
        None, description="Only these sources' documents and failures (the live sources)"
    )
    status: DocumentStatus | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)
    document_id: UUID | None = Field(None, description="Only this document (no failures)")
