"""Errors of the Python client: a refused request is an ``ApiError`` carrying the HTTP
status and the server's message, of a subclass for the statuses callers act on."""

from __future__ import annotations

from typing import Any

from semantik_contracts import ErrorCode


class ApiError(Exception):
    """The server refused a request: ``status`` is the HTTP status, ``detail`` the
    server's message, ``code`` its error code (``not_found``, ``conflict``, …) if any."""

    def __init__(self, status: int, detail: str, code: str | None = None) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail
        self.code = code


class InvalidRequestError(ApiError):
    """400 or 422: the request is wrong (a field, a path outside the roots, a model)."""


class UnauthorizedError(ApiError):
    """401: no valid credentials (a wrong password, an expired or revoked key or token)."""


class ForbiddenError(ApiError):
    """403: not allowed (a collection you cannot see, a role or a key's scope too low)."""


class NotFoundError(ApiError):
    """404: no such collection, operation, source or document."""


class ConflictError(ApiError):
    """409: another operation runs on the collection, a name that exists, a quota."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidRequestError,
}

#: The WebSocket's ``error`` frame codes as the HTTP status of the same refusal (the
#: gateway's ``errors.HTTP_STATUS``, which the client does not import: it needs FastAPI).
_STATUS_OF_CODE: dict[str, int] = {
    ErrorCode.INVALID: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.TIMEOUT: 504,
}


def api_error(status: int, detail: str, code: str | None = None) -> ApiError:
    """The ``ApiError`` of ``status``: a subclass where one names it."""
    return _BY_STATUS.get(status, ApiError)(status, detail, code)


def error_of_body(status: int, body: Any, text: str) -> ApiError:
    """The error of a refused response whose JSON body is ``body`` (``text`` if none)."""
    if not isinstance(body, dict):
        return api_error(status, text)
    code = body.get("code")
    return api_error(status, str(body.get("detail", text)), code if isinstance(code, str) else None)


def error_of_frame(data: dict[str, Any]) -> ApiError:
    """The error an ``error`` frame of the WebSocket reports (a refused subscription)."""
    code = str(data.get("code", ""))
    return api_error(_STATUS_OF_CODE.get(code, 503), str(data.get("message", code)), code or None)
