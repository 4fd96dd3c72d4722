"""HTTP schemas of ``/api/v2/webhooks`` (SPEC §13). Bodies are ``RequestBody``: bad input
(an unknown event name, a URL of the wrong shape) is a 422 naming the field."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field, field_validator
from semantik_contracts.events import EVENT_TYPES

from .schemas import RequestBody
from .webhook_guard import MAX_URL_LENGTH, check_url_shape
from .webhooks import ALL_EVENTS, WebhookView

#: Collections one webhook may name (each is checked against its owner's access).
MAX_COLLECTIONS = 100


class WebhookCreate(RequestBody):
    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="Where events are POSTed: http or https, no credentials, a public host "
        "unless SEMANTIK_WEBHOOK_ALLOW_PRIVATE",
        examples=["https://hooks.example.org/semantik"],
    )
    events: list[str] = Field(
        min_length=1,
        max_length=len(EVENT_TYPES) + 1,
        description='Event type names (the events catalogue), or ["*"] for every event',
        examples=[["CollectionStatusChanged", "OperationCompleted"], ["*"]],
    )
    collection_ids: list[UUID] | None = Field(
        None,
        min_length=1,
        max_length=MAX_COLLECTIONS,
        description="Only events of these collections; omitted: every collection the owner "
        "may read, now or later",
    )
    description: str = Field("", max_length=500)

    @field_validator("url")
    @classmethod
    def _url_shape(cls, url: str) -> str:
        return check_url_shape(url)

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        unknown = sorted({e for e in events if e != ALL_EVENTS and e not in EVENT_TYPES})
        if unknown:
            shown = ", ".join(repr(e[:80]) for e in unknown[:5])
            raise ValueError(f"unknown event type {shown}; see the events catalogue (AsyncAPI)")
        return events


class WebhookUpdate(RequestBody):
    active: bool = Field(
        description="false pauses it; true activates it again (and clears "
        "the failure that deactivated it)"
    )


class WebhookPublic(BaseModel):
    id: UUID
    url: str
    events: list[str]
    collection_ids: list[UUID] | None
    description: str
    active: bool
    created_at: datetime
    failing_since: datetime | None = Field(description="Deliveries have failed since then")
    deactivated_reason: str | None = Field(
        description="Why the system deactivated it; null when active or paused by the owner"
    )
    last_delivery_at: datetime | None = Field(
        description="A recent successful delivery (recorded at most once a minute)"
    )

    @classmethod
    def of(cls, view: WebhookView) -> WebhookPublic:
        """The owner's view of a webhook: its fields by name (the tuples as lists), never
        the secret (``WebhookPublic`` has no such field)."""
        return cls.model_validate(view, from_attributes=True)


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="The signing secret (Standard Webhooks, whsec_…): shown in this answer only"
    )
