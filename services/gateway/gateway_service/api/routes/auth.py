"""``/api/v1/auth``: register, login, rotating refresh, logout, me (SPEC §7, §9).

Plain ``def`` routes: argon2 and the event store block, so FastAPI runs them in its
thread pool and the event loop stays free.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from ...schemas import RefreshRequest, TokenPair, UserCreate, UserLogin, UserPublic
from ...users import User
from ..deps import AuthDep, CurrentUser, SignInLimit

router = APIRouter(prefix="/auth", tags=["auth"])
#: Only the sign-in routes are limited (``/me`` is an ordinary authenticated read).
limited = APIRouter(dependencies=[SignInLimit], responses={429: {"description": "Too many"}})


def user_public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id, username=user.username, email=user.email, created_at=user.created_on
    )


@limited.post("/register", status_code=status.HTTP_201_CREATED)
def register(body: UserCreate, auth: AuthDep) -> UserPublic:
    """Create an account; 409 if the name is taken (letter case does not matter)."""
    return user_public(auth.register(body.username, body.password, body.email))


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
def me(user: CurrentUser, auth: AuthDep) -> UserPublic:
    return user_public(auth.current_user(user.user_id))


router.include_router(limited)
