"""Typed results of the Python client.

They are the wire shapes themselves: the read models of ``semantik_contracts`` and the
gateway's response schemas, under the names a client uses. Only what no server-side
model describes (a WebSocket event frame) is defined here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from gateway_service.access_schemas import ApiKeyCreated, ApiKeyPublic, Me, UserAdmin
from gateway_service.schemas import CollectionPublic, SourceUpdated, TokenPair
from pydantic import BaseModel, ConfigDict, Field
from semantik_contracts import (
    CollectionStatus,
    DocumentStatus,
    OperationStatus,
    OperationType,
    SearchType,
)
from semantik_contracts.search import SearchResponse, SearchResult
from semantik_contracts.sync import SourceSync
from semantik_contracts.views import (
    DocumentView,
    Failure,
    OperationView,
    Page,
    SourceAndOperation,
    SourceView,
)

#: A collection as ``GET /api/v2/collections/{id}`` answers it.
Collection = CollectionPublic
#: An operation (index, append, reindex, remove_source, delete) and its progress.
Operation = OperationView
#: A source of a collection: a directory or file on the server, or an upload.
Source = SourceView
#: A document of a collection with its status (or a file that failed to become one).
Document = DocumentView

#: Operation statuses after which nothing changes.
TERMINAL = frozenset({OperationStatus.COMPLETED, OperationStatus.FAILED, OperationStatus.CANCELLED})
#: The events that end an operation.
ENDINGS = frozenset({"OperationCompleted", "OperationFailed", "OperationCancelled"})


class EventFrame(BaseModel):
    """One event of a collection or an operation, as the WebSocket ``/ws`` sends it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: str = Field(description="The event's name, such as OperationProgressed, or snapshot")
    seq: int = Field(description="Its sequence in the stream SEMANTIK_EVENTS: resume after it")
    timestamp: datetime | None = None
    subscription: str = Field("", description="collection:<id> or operation:<id>")
    data: dict[str, Any] = Field(default_factory=dict, description="The event's fields")

    @property
    def collection_id(self) -> UUID | None:
        found = self.data.get("collection_id")
        return UUID(str(found)) if found else None

    @property
    def operation_id(self) -> UUID | None:
        found = self.data.get("operation_id")
        return UUID(str(found)) if found else None

    @property
    def is_snapshot(self) -> bool:
        """The current state a subscription without ``last_seq`` starts with (``data``:
        ``{collection, operations}`` or ``{operation}``), not an event."""
        return self.type == "snapshot"

    @property
    def ends_operation(self) -> bool:
        """An operation's ending event, or a snapshot of an operation that has ended."""
        if self.is_snapshot:
            operation = self.data.get("operation")
            return isinstance(operation, dict) and operation.get("status") in TERMINAL
        return self.type in ENDINGS


__all__ = [
    "ENDINGS",
    "TERMINAL",
    "ApiKeyCreated",
    "ApiKeyPublic",
    "Collection",
    "CollectionStatus",
    "Document",
    "DocumentStatus",
    "EventFrame",
    "Failure",
    "Me",
    "Operation",
    "OperationStatus",
    "OperationType",
    "Page",
    "SearchResponse",
    "SearchResult",
    "SearchType",
    "Source",
    "SourceAndOperation",
    "SourceSync",
    "SourceUpdated",
    "TokenPair",
    "UserAdmin",
]
