"""What a WebSocket client may follow, who may follow it, and what it follows now.

The WebSocket protocol's own messages (not bus messages): a subscription names a
collection or an operation; the collections service decides whether the user may see
it, and the answer picks the event subjects to follow. A subscription without
``last_seq`` starts with the target's current state (``snapshot_of``), read by the same
queries as the REST API's, instead of a replay of its whole history.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, Field, TypeAdapter, model_validator
from semantik_contracts import ErrorCode, OperationStatus, RpcError, RpcFailure
from semantik_contracts.commands import GetCollection, GetOperation, ListOperations
from semantik_contracts.subjects import event_filter
from semantik_contracts.views import CollectionView, OperationView, Page

from .backend import Backend
from .principals import Principal

COLLECTION: Final = "collection"
OPERATION: Final = "operation"
#: The operations of a collection that its snapshot shows: those not ended yet.
UNFINISHED: Final = (OperationStatus.PROCESSING, OperationStatus.PENDING, OperationStatus.QUEUED)
#: Operations of one status a snapshot lists at most (a collection's queue is short).
SNAPSHOT_OPERATIONS: Final = 100


@dataclass(frozen=True)
class Target:
    kind: Literal["collection", "operation"]
    id: UUID

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    def ids(self) -> dict[str, str]:
        return {f"{self.kind}_id": str(self.id)}


class SubscribeCollection(BaseModel):
    type: Literal["subscribe_collection"]
    collection_id: UUID
    last_seq: int | None = Field(None, ge=0, description="Replay events after this sequence")

    def target(self) -> Target:
        return Target(COLLECTION, self.collection_id)


class SubscribeOperation(BaseModel):
    type: Literal["subscribe_operation"]
    operation_id: UUID
    last_seq: int | None = Field(None, ge=0)

    def target(self) -> Target:
        return Target(OPERATION, self.operation_id)


class Unsubscribe(BaseModel):
    type: Literal["unsubscribe"]
    collection_id: UUID | None = None
    operation_id: UUID | None = None
    subscription: str | None = Field(None, max_length=100)

    @model_validator(mode="after")
    def _names_one(self) -> Unsubscribe:
        named = (self.collection_id, self.operation_id, self.subscription)
        if sum(x is not None for x in named) != 1:
            raise ValueError("name exactly one of collection_id, operation_id, subscription")
        return self

    def key(self) -> str:
        if self.collection_id is not None:
            return Target(COLLECTION, self.collection_id).key
        if self.operation_id is not None:
            return Target(OPERATION, self.operation_id).key
        return str(self.subscription)


class Ping(BaseModel):
    type: Literal["ping"]


ClientMessage: TypeAdapter[SubscribeCollection | SubscribeOperation | Unsubscribe | Ping] = (
    TypeAdapter(
        Annotated[
            SubscribeCollection | SubscribeOperation | Unsubscribe | Ping,
            Field(discriminator="type"),
        ]
    )
)


@dataclass(frozen=True)
class Followed:
    """A target the principal may follow: its subject filter, and the view that the
    collections service answered (a snapshot starts from it)."""

    filter_subject: str
    collection: CollectionView | None = None
    operation: OperationView | None = None


async def resolve_target(backend: Backend, principal: Principal, target: Target) -> Followed:
    """What ``target`` follows; raises ``RpcFailure`` (404/403…) if not allowed."""
    if target.kind == COLLECTION:
        _reachable(principal, target.id)
        collection = await backend.ask(
            GetCollection(**principal.acting, collection_id=target.id), CollectionView
        )
        return Followed(event_filter(collection_id=collection.id), collection=collection)
    operation = await backend.ask(
        GetOperation(**principal.acting, operation_id=target.id), OperationView
    )
    _reachable(principal, operation.collection_id)
    subject = event_filter(
        collection_id=operation.collection_id, aggregate_type=OPERATION, aggregate_id=operation.id
    )
    return Followed(subject, operation=operation)


async def snapshot_of(backend: Backend, principal: Principal, followed: Followed) -> dict[str, Any]:
    """The current state of what a subscription follows, as the REST API shows it: an
    operation's view, or a collection's (its vector count included) with the operations
    that run or wait in its queue. Read after the stream's last sequence was taken, so
    it holds every event up to that sequence: the collections service folds an event
    into these views before its relay publishes it."""
    if followed.operation is not None:
        return {"operation": followed.operation.model_dump(mode="json")}
    assert followed.collection is not None
    collection = followed.collection

    async def operations(status: OperationStatus) -> Page[OperationView]:
        query = ListOperations(
            **principal.acting,
            collection_id=collection.id,
            status=status.value,
            limit=SNAPSHOT_OPERATIONS,
        )
        return await backend.ask(query, Page[OperationView])

    public, pages = await asyncio.gather(
        backend.public(collection), asyncio.gather(*map(operations, UNFINISHED))
    )
    unfinished = sorted(
        (op for page in pages for op in page.items), key=lambda op: op.created_at, reverse=True
    )
    return {
        "collection": public.model_dump(mode="json"),
        "operations": [op.model_dump(mode="json") for op in unfinished],
    }


def _reachable(principal: Principal, collection_id: UUID) -> None:
    if not principal.reaches(collection_id):
        message = f"this API key is not allowed collection {collection_id}"
        raise RpcFailure(RpcError(code=ErrorCode.FORBIDDEN, message=message))
