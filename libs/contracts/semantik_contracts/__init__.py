"""Every message on Semantik's bus: pydantic v2 models, subject and stream names. No I/O."""

from . import commands, events, search, subjects, views, work
from .base import Event, Message
from .enums import (
    CollectionRole,
    CollectionStatus,
    DocumentStatus,
    ErrorCode,
    OperationStatus,
    OperationType,
    PrincipalType,
    SearchType,
    SkipReason,
    SourceKind,
)
from .envelope import EventEnvelope
from .rpc import Reply, RpcError, RpcFailure

__all__ = [
    "CollectionRole",
    "CollectionStatus",
    "DocumentStatus",
    "ErrorCode",
    "Event",
    "EventEnvelope",
    "Message",
    "OperationStatus",
    "OperationType",
    "PrincipalType",
    "Reply",
    "RpcError",
    "RpcFailure",
    "SearchType",
    "SkipReason",
    "SourceKind",
    "commands",
    "events",
    "search",
    "subjects",
    "views",
    "work",
]
