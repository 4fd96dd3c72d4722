"""The one envelope every event travels in on ``SEMANTIK_EVENTS``."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import ConfigDict, Field, computed_field

from .base import Message
from .events import AnyEvent
from .subjects import event_subject


class EventEnvelope(Message):
    """An event with its identity and trace context.

    ``event_id`` is ``<aggregate_id>:<version>`` and doubles as ``Nats-Msg-Id``, so a
    relay that republishes after a crash creates no duplicate in the stream.
    """

    # ``type`` is echoed for readers of raw JSON; it is derived, so ignored on input.
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str = Field(description="Stable id: <aggregate_id>:<version> or a work id")
    aggregate_type: str = Field(description="collection, operation, source, document, scan, work")
    aggregate_id: UUID
    version: int = Field(ge=0, description="Aggregate version the event created")
    schema_version: int = Field(
        1, ge=1, description="Version of the event's schema; older ones are upcast on load"
    )
    occurred_at: datetime
    traceparent: str | None = Field(None, description="W3C trace context of the cause")
    event: AnyEvent

    @computed_field  # type: ignore[prop-decorator]
    @property
    def type(self) -> str:
        return self.event.type

    @property
    def collection_id(self) -> UUID | None:
        return getattr(self.event, "collection_id", None)

    @property
    def subject(self) -> str:
        return event_subject(self.collection_id, self.aggregate_type, self.aggregate_id, self.type)
