"""What a WebSocket client may follow, and who may follow it.

The WebSocket protocol's own messages (not bus messages): a subscription names a
collection or an operation; the collections service decides whether the user may see
it, and the answer picks the event subjects to follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import BaseModel, Field, TypeAdapter, model_validator
from semantik_contracts import ErrorCode, RpcError, RpcFailure
from semantik_contracts.commands import GetCollection, GetOperation
from semantik_contracts.subjects import event_filter
from semantik_contracts.views import CollectionView, OperationView

from .backend import Backend
from .principals import Principal

COLLECTION: Final = "collection"
OPERATION: Final = "operation"


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


async def resolve_target(backend: Backend, principal: Principal, target: Target) -> str:
    """The subject filter of ``target``; raises ``RpcFailure`` (404/403…) if not allowed."""
    if target.kind == COLLECTION:
        _reachable(principal, target.id)
        collection = await backend.ask(
            GetCollection(**principal.acting, collection_id=target.id), CollectionView
        )
        return event_filter(collection_id=collection.id)
    operation = await backend.ask(
        GetOperation(**principal.acting, operation_id=target.id), OperationView
    )
    _reachable(principal, operation.collection_id)
    return event_filter(
        collection_id=operation.collection_id, aggregate_type=OPERATION, aggregate_id=operation.id
    )


def _reachable(principal: Principal, collection_id: UUID) -> None:
    if not principal.reaches(collection_id):
        message = f"this API key is not allowed collection {collection_id}"
        raise RpcFailure(RpcError(code=ErrorCode.FORBIDDEN, message=message))
