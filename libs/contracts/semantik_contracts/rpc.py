"""Typed replies of request/reply commands and queries."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .base import Message
from .enums import ErrorCode

T = TypeVar("T")


class RpcError(Message):
    code: ErrorCode
    message: str = Field(description="Human-readable, safe to show to the user")
    details: dict[str, Any] = Field(default_factory=dict)


class Reply(BaseModel, Generic[T]):
    """Either ``result`` or ``error``, never both."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    result: T | None = None
    error: RpcError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class RpcFailure(Exception):
    """Raised by callers that prefer exceptions; carries the typed error."""

    def __init__(self, error: RpcError) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error
