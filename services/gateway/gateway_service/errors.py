"""Typed errors → HTTP statuses, in one place (SPEC §7: nothing user-caused is a 500).

Client input is checked by the request schemas (422, naming the field) before any
command is built, with the same limits as the commands; so a command that still fails
to validate, or a reply that does not parse, is a bug and is left to be a 500.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from semantik_contracts import ErrorCode, RpcError, RpcFailure
from semantik_runtime.errors import CommandError

HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.QUOTA_EXCEEDED: 409,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.INTERNAL: 500,
}


def status_of(error: RpcError) -> int:
    return HTTP_STATUS.get(error.code, 500)


def error_response(error: RpcError) -> JSONResponse:
    status = status_of(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"detail": error.message, "code": error.code.value}
    return JSONResponse(body, status_code=status, headers=headers)


async def _rpc_failure(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RpcFailure)
    return error_response(exc.error)


async def _command_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CommandError)
    return error_response(exc.to_rpc())


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    """422 naming each field and what is wrong, without echoing the input back: it may
    be a password, or text that cannot even be encoded in the response."""
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(RpcFailure, _rpc_failure)
    app.add_exception_handler(CommandError, _command_error)
