"""Dependencies of the routes, as ``Annotated`` aliases (the full-stack template's way).

They are ``async`` because none blocks: FastAPI runs a plain ``def`` dependency in its
thread pool, a hand-off to another thread per dependency and request (measurable on
a search, which has six)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, HTTPException, status
from fastapi.requests import HTTPConnection, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..auth import Authenticator
from ..backend import Backend
from ..config import GatewaySettings
from ..context import GatewayContext
from ..principals import Principal, Unauthenticated
from ..ratelimit import Limiter

bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")


async def get_context(connection: HTTPConnection) -> GatewayContext:
    context: GatewayContext = connection.app.state.context
    await context.follow_bus()  # at once after the first call
    return context


ContextDep = Annotated[GatewayContext, Depends(get_context)]


async def get_settings(context: ContextDep) -> GatewaySettings:
    return context.settings


async def get_auth(context: ContextDep) -> Authenticator:
    return context.auth


async def get_backend(context: ContextDep) -> Backend:
    if context.backend is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the gateway is not connected yet")
    return context.backend


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
AuthDep = Annotated[Authenticator, Depends(get_auth)]
BackendDep = Annotated[Backend, Depends(get_backend)]


async def get_current_user(
    request: Request,
    context: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Who is asking: a signed-in user or an API key (SPEC §11); its user id is the
    ``actor`` of every command. A key outside its scopes or collections is refused."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthenticated("not authenticated")
    try:
        principal = context.principals.resolve(credentials.credentials)
    except Unauthenticated as exc:
        raise _unauthenticated(str(exc)) from None
    if context.auth.session_ended(principal.session_id):
        raise _unauthenticated("this session has ended (signed out)")
    template = route_template(request)
    if not principal.may_use(request.method, template):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this API key's scopes ({', '.join(sorted(principal.scopes or ()))}) "
            f"do not allow {request.method} {template}",
        )
    collection_id = request.path_params.get("collection_id")
    if collection_id is not None and principal.collection_ids is not None:
        try:
            allowed = principal.reaches(UUID(str(collection_id)))
        except ValueError:
            allowed = True  # not an id: the route answers 422
        if not allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this API key is not allowed collection {collection_id}",
            )
    return principal


def route_template(request: Request) -> str:
    """The matched route's whole path template (``/api/v2/collections/{collection_id}``):
    FastAPI keeps included routers nested, so the route's own ``path`` lacks prefixes."""
    fastapi_scope = request.scope.get("fastapi")
    context = (
        fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    )
    path = getattr(context, "path", None) or getattr(request.scope.get("route"), "path", None)
    return str(path or request.url.path)


async def get_admin(user: Annotated[Principal, Depends(get_current_user)]) -> Principal:
    if not user.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an admin may do this")
    return user


def _unauthenticated(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


CurrentUser = Annotated[Principal, Depends(get_current_user)]
AdminUser = Annotated[Principal, Depends(get_admin)]


async def _limited(limiter: Limiter, key: str, what: str) -> None:
    wait = await limiter.admit(key)
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many {what} requests; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )


async def limit_sign_in(request: Request, context: ContextDep) -> None:
    """Sign-in requests per client address (429 with ``Retry-After`` beyond the limit)."""
    address = request.client.host if request.client else "unknown"
    await _limited(context.sign_in_limit, address, "sign-in")


async def limit_search(user: CurrentUser, context: ContextDep) -> None:
    """Searches per user (429 with ``Retry-After`` beyond the limit)."""
    await _limited(context.search_limit, user.user_id, "search")


SignInLimit = Depends(limit_sign_in)
SearchLimit = Depends(limit_search)
