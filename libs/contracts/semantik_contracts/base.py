"""Base classes shared by every message on the bus."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Message(BaseModel):
    """A frozen message: commands, queries and replies reject unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(BaseModel):
    """A frozen domain event. Unknown fields are ignored so that older consumers keep
    working when a later version adds a field (events are never rewritten)."""

    model_config = ConfigDict(frozen=True, extra="ignore")
