"""Closed vocabularies shared by commands, events and views."""

from __future__ import annotations

from enum import StrEnum


class CollectionStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    PROCESSING = "processing"
    REINDEXING = "reindexing"
    DEGRADED = "degraded"
    ERROR = "error"


class CollectionRole(StrEnum):
    """What a user may do with a collection (SPEC §11), each role holding the ones before."""

    VIEWER = "viewer"  # read, list, search, follow
    EDITOR = "editor"  # + sources and operations
    OWNER = "owner"  # + update, delete, manage access

    @property
    def rank(self) -> int:
        return list(CollectionRole).index(self)

    def allows(self, needed: CollectionRole) -> bool:
        return self.rank >= needed.rank


class PrincipalType(StrEnum):
    USER = "user"
    TEAM = "team"


class OperationType(StrEnum):
    INDEX = "index"
    APPEND = "append"
    REINDEX = "reindex"
    REMOVE_SOURCE = "remove_source"
    DELETE = "delete"


class OperationStatus(StrEnum):
    QUEUED = "queued"  # waits in its collection's queue for the running one (SPEC §12)
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (self.COMPLETED, self.FAILED, self.CANCELLED)


class SourceKind(StrEnum):
    DIRECTORY = "directory"
    FILE = "file"
    UPLOAD = "upload"


class DocumentStatus(StrEnum):
    PENDING = "pending"  # registered, its chunks not all embedded yet
    INDEXED = "indexed"  # every chunk embedded: found by search
    FAILED = "failed"  # could not be read, or its embedding failed (see reason)


class SkipReason(StrEnum):
    DUPLICATE = "duplicate"
    UNCHANGED = "unchanged"


class SearchType(StrEnum):
    HYBRID = "hybrid"
    DENSE = "dense"
    SPARSE = "sparse"


class ErrorCode(StrEnum):
    """Typed errors of commands and queries; the gateway maps each to an HTTP status."""

    INVALID = "invalid"  # 400
    UNAUTHORIZED = "unauthorized"  # 401
    FORBIDDEN = "forbidden"  # 403
    NOT_FOUND = "not_found"  # 404
    CONFLICT = "conflict"  # 409
    TOO_LARGE = "too_large"  # 413
    QUOTA_EXCEEDED = "quota_exceeded"  # 409
    UNAVAILABLE = "unavailable"  # 503
    TIMEOUT = "timeout"  # 504
    INTERNAL = "internal"  # 500, never for user input
