"""``/api/v1/auth``: register, login, rotating refresh, logout, me, and the registration
mode (SPEC §7, §9, §11).

Plain ``def`` routes: argon2 and the event store block, so FastAPI runs them in its
thread pool and the event loop stays free.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status

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


@limited.post("/login")
def login(body: UserLogin, auth: AuthDep) -> TokenPair:
    """A new access token and the first refresh token of a new session."""
    return auth.login(body.username, body.password)


@limited.post("/refresh")
def refresh(body: RefreshRequest, auth: AuthDep) -> TokenPair:
    """A new pair; the refresh token presented is revoked (presenting it again ends the
    whole session)."""
    return auth.refresh(body.refresh_token)


@limited.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(body: RefreshRequest, auth: AuthDep) -> None:
    """Revoke the session of this refresh token."""
    auth.logout(body.refresh_token)


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
