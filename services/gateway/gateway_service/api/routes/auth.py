"""``/api/v1/auth``: register, login, rotating refresh, logout, me, and the registration
mode (SPEC §7, §9, §11).

Plain ``def`` routes: argon2 and the event store block, so FastAPI runs them in its
thread pool and the event loop stays free.

Browsers keep the refresh token in an httpOnly, SameSite=Strict cookie scoped to this
prefix (``REFRESH_COOKIE``): page scripts never see it, other sites cannot send it, and
it travels only to refresh and logout. API clients use the JSON body instead; refresh
and logout take either (the body first).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Cookie, Request, Response, status

from ...access_schemas import Me, Registration, RegistrationUpdate, TeamRef
from ...accounts import User
from ...schemas import RefreshRequest, TokenPair, UserCreate, UserLogin, UserPublic
from ..deps import AdminUser, AuthDep, ContextDep, CurrentUser, SignInLimit

router = APIRouter(prefix="/auth", tags=["auth"])
#: Only the sign-in routes are limited (``/me`` is an ordinary authenticated read).
limited = APIRouter(dependencies=[SignInLimit], responses={429: {"description": "Too many"}})


def user_public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id, username=user.username, email=user.email, created_at=user.created_on
    )


@limited.post("/register", status_code=status.HTTP_201_CREATED)
def register(body: UserCreate, auth: AuthDep) -> UserPublic:
    """Create an account: the first one of an empty instance (its admin), then as
    ``SEMANTIK_REGISTRATION`` says (403 when closed, an invite code when by invite);
    409 if the name is taken (letter case does not matter)."""
    return user_public(auth.register(body.username, body.password, body.email, body.invite_code))


REFRESH_COOKIE = "semantik_refresh"
COOKIE_PATH = "/api/v1/auth"
RefreshCookie = Annotated[str | None, Cookie(alias=REFRESH_COOKIE, include_in_schema=False)]


def set_refresh_cookie(
    response: Response, request: Request, pair: TokenPair, auth: AuthDep
) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh_token,
        max_age=int(auth.tokens.refresh_ttl.total_seconds()),
        path=COOKIE_PATH,
        # Secure whenever the client came over https (directly, or through a proxy
        # uvicorn trusts with --forwarded-allow-ips); plain http on localhost needs it off.
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def presented(body: RefreshRequest | None, cookie: str | None) -> str | None:
    return body.refresh_token if body is not None else cookie


@limited.post("/login")
def login(body: UserLogin, auth: AuthDep, request: Request, response: Response) -> TokenPair:
    """A new access token and the first refresh token of a new session, in the body and
    (for browsers) in the httpOnly refresh cookie."""
    pair = auth.login(body.username, body.password)
    set_refresh_cookie(response, request, pair, auth)
    return pair


@limited.post("/refresh")
def refresh(
    auth: AuthDep,
    request: Request,
    response: Response,
    cookie: RefreshCookie = None,
    body: RefreshRequest | None = None,
) -> TokenPair:
    """A new pair for the refresh token of the body or else of the cookie (which is
    rotated); the token presented is revoked (presenting it again ends the whole
    session)."""
    pair = auth.refresh(presented(body, cookie))
    set_refresh_cookie(response, request, pair, auth)
    return pair


@limited.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    auth: AuthDep,
    response: Response,
    cookie: RefreshCookie = None,
    body: RefreshRequest | None = None,
) -> None:
    """End the session of the refresh token of the body or else of the cookie, and
    clear the cookie."""
    auth.logout(presented(body, cookie))
    response.delete_cookie(REFRESH_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")


@router.get("/me")
def me(user: CurrentUser, context: ContextDep) -> Me:
    """Who is signed in: admin or not, and their teams."""
    found = context.auth.current_user(user.user_id)
    index = context.users.index
    teams = [index.teams.get(UUID(team_id)) for team_id in index.teams_of(user.user_id)]
    return Me(
        id=found.id,
        username=found.username,
        email=found.email,
        is_admin=found.is_admin,
        teams=[TeamRef(id=t.id, name=t.name) for t in teams if t is not None],
        created_at=found.created_on,
    )


@router.get("/registration")
def registration(context: ContextDep) -> Registration:
    """Whether the sign-in page offers registration (no token needed)."""
    users = context.users
    first = users.index.instance is None and not users.index.people()
    return Registration(mode=users.registration, first_account=first)


@router.put("/registration")
def set_registration(
    body: RegistrationUpdate, admin: AdminUser, context: ContextDep
) -> Registration:
    """Change who may register, at once and for every gateway (kept in the log)."""
    mode = context.users.set_registration(body.mode, admin.user_id)
    return Registration(mode=mode, first_account=False)


router.include_router(limited)
