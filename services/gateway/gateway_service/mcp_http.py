"""``/mcp``: the MCP server over streamable HTTP on the gateway (SPEC §13).

Every request carries an API key (``Authorization: Bearer smk_…``), resolved as the
REST routes resolve it, so a revoked key stops at once; the sign-in tokens of browser
sessions are refused (an agent gets a key of its own, narrowed to scopes and
collections). The SDK's session manager runs stateless with JSON answers: each POST is
one exchange and any gateway replica can answer it.

The tools call what the REST routes call, as the key: the collections route's listing
(narrowed to the key's collections), the backend's search (with the per-user search
rate limit) and ``read_document``. A key's scopes bound them as they bound the routes:
``search`` lists and searches, ``get_document`` needs ``read``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from uuid import UUID

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import ValidationError
from semantik_contracts import RpcFailure
from semantik_runtime.errors import CommandError
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from .administration import KEY_PREFIX
from .api.deps import limit_search
from .api.routes.collections import list_collections
from .context import GatewayContext
from .document_detail import DOCUMENT_ROUTE, read_document
from .errors import status_of
from .mcp_server import build_server, invalid_fields
from .principals import Principal, Unauthenticated
from .schemas import MultiSearchRequest

#: Where the endpoint leaves the caller for the tools (the request's ASGI scope).
PRINCIPAL = "semantik.principal"
NEEDS_KEY = (
    "/mcp takes an API key (Authorization: Bearer smk_…), not a sign-in token; "
    "create one with POST /api/v1/api-keys"
)


@contextmanager
def refusals() -> Iterator[None]:
    """A refusal of the backend or the routes as the tool's error, with its status."""
    try:
        yield
    except RpcFailure as exc:
        raise ToolError(f"{status_of(exc.error)}: {exc.error.message}") from None
    except CommandError as exc:
        raise ToolError(f"{status_of(exc.to_rpc())}: {exc.message}") from None
    except HTTPException as exc:
        raise ToolError(f"{exc.status_code}: {exc.detail}") from None
    except ValidationError as exc:
        raise ToolError(f"422: {invalid_fields(exc)}") from None


class GatewayApi:
    """``SemantikApi`` in the gateway: its backend, as the key of this request."""

    def __init__(self, context: GatewayContext, user: Principal) -> None:
        if context.backend is None:
            raise ToolError("503: the gateway is not connected yet")
        self.context = context
        self.backend = context.backend
        self.user = user

    def _allowed(self, method: str, route: str) -> None:
        if not self.user.may_use(method, route):
            scopes = ", ".join(sorted(self.user.scopes or ()))
            raise ToolError(f"403: this API key's scopes ({scopes}) do not allow {method} {route}")

    async def list_collections(self) -> list[dict[str, Any]]:
        self._allowed("GET", "/api/v2/collections")
        with refusals():
            page = await list_collections(
                user=self.user, backend=self.backend, limit=500, offset=0, status=None, name=None
            )
        return [view.model_dump(mode="json") for view in page.items]

    async def search(self, request: MultiSearchRequest) -> dict[str, Any]:
        self._allowed("POST", "/api/v2/search")
        with refusals():
            await limit_search(self.user, self.context)
            found = await self.backend.search(self.user, request.collection_ids, request)
        return found.model_dump(mode="json")

    async def get_document(self, collection_id: UUID, document_id: UUID) -> dict[str, Any]:
        self._allowed("GET", DOCUMENT_ROUTE)
        with refusals():
            document = await read_document(self.backend, self.user, collection_id, document_id)
        return document.model_dump(mode="json")


class McpEndpoint:
    """The ASGI app at ``/mcp``: authenticates the key, then hands the request to the
    SDK's session manager, which ``running()`` keeps up for the gateway's lifetime."""

    def __init__(self, context: GatewayContext) -> None:
        self.context = context
        self.manager: StreamableHTTPSessionManager | None = None

    def _api(self, ctx: Context) -> GatewayApi:
        request = ctx.request_context.request
        user = getattr(request, "scope", {}).get(PRINCIPAL)
        if not isinstance(user, Principal):
            raise ToolError("401: not authenticated")
        return GatewayApi(self.context, user)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        server = build_server(self._api)
        # Stateless, the transport says "Terminating session: None" at INFO after every
        # request: noise in the gateway's log, not news.
        logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)
        # Built for this lifespan: a session manager runs once. The DNS rebinding guard
        # is for servers a browser page could reach with ambient credentials; here every
        # request must carry a key, which such a page does not have.
        server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.manager = server.session_manager
        try:
            async with self.manager.run():
                yield
        finally:
            self.manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._authenticate(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.context.follow_bus()
        if self.manager is None or self.context.backend is None:
            answer = JSONResponse({"detail": "the gateway is not connected yet"}, 503)
            await answer(scope, receive, send)
            return
        await self.manager.handle_request(scope, receive, send)

    def _authenticate(self, scope: Scope) -> JSONResponse | None:
        """None once ``scope`` carries the key's principal, else the 401 to answer."""
        scheme, _, credential = (Headers(scope=scope).get("authorization") or "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return _unauthenticated("not authenticated: " + NEEDS_KEY)
        if not credential.startswith(KEY_PREFIX):
            return _unauthenticated(NEEDS_KEY)
        try:
            scope[PRINCIPAL] = self.context.principals.resolve(credential)
        except Unauthenticated as exc:
            return _unauthenticated(str(exc))
        return None


def _unauthenticated(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, 401, headers={"WWW-Authenticate": "Bearer"})
