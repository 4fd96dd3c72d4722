"""Errors as values at the edges: a handler raises ``CommandError``; the bus replies with it."""

from __future__ import annotations

from typing import Any

from semantik_contracts import ErrorCode, RpcError


class CommandError(Exception):
    """A typed, user-facing failure of a command or query."""

    def __init__(self, code: ErrorCode, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def to_rpc(self) -> RpcError:
        return RpcError(code=self.code, message=self.message, details=self.details)


def not_found(what: str, ident: object) -> CommandError:
    return CommandError(ErrorCode.NOT_FOUND, f"{what} {ident} not found")


def forbidden(what: str, ident: object) -> CommandError:
    return CommandError(ErrorCode.FORBIDDEN, f"{what} {ident} belongs to another user")


def conflict(message: str, **details: Any) -> CommandError:
    return CommandError(ErrorCode.CONFLICT, message, **details)


def invalid(message: str, **details: Any) -> CommandError:
    return CommandError(ErrorCode.INVALID, message, **details)
