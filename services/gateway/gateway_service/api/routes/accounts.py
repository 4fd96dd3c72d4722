"""``/api/v1/users``, ``/invites``, ``/directory``: accounts (SPEC §11). Managing them
is an admin's; the directory (names only) is every signed-in user's, to share with.

Plain ``def`` routes: argon2 and the event store block; FastAPI runs them in threads.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status

from ...access_schemas import (
    Directory,
    InviteCreate,
    InvitePublic,
    MemberRef,
    TeamRef,
    UserAdmin,
    UserAdminCreate,
    UserAdminUpdate,
)
from ...accounts import User
from ..deps import AdminUser, ContextDep, CurrentUser

router = APIRouter(tags=["accounts"])


def user_admin(user: User) -> UserAdmin:
    return UserAdmin(
        id=user.id,
        username=user.username,
        email=user.email,
        is_admin=user.is_admin,
        disabled=user.disabled,
        operator=user.operator,
        created_at=user.created_on,
    )


@router.get("/users")
def list_users(_: AdminUser, context: ContextDep) -> list[UserAdmin]:
    """Every account, by name."""
    users = sorted(context.users.index.users.values(), key=lambda u: u.username.casefold())
    return [user_admin(u) for u in users]


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: UserAdminCreate, admin: AdminUser, context: ContextDep) -> UserAdmin:
    """An account made by an admin, whatever the registration mode."""
    created = context.users.create_user(body.username, body.password, body.is_admin, admin.user_id)
    return user_admin(created)


@router.patch("/users/{user_id}")
def update_user(
    user_id: UUID, body: UserAdminUpdate, admin: AdminUser, context: ContextDep
) -> UserAdmin:
    """Promote, demote, disable, enable, reset the password. Disabling ends the user's
    tokens, API keys and open WebSockets at once."""
    changed = context.users.update_user(
        user_id,
        admin.user_id,
        is_admin=body.is_admin,
        disabled=body.disabled,
        password=body.password,
    )
    return user_admin(changed)


@router.post("/invites", status_code=status.HTTP_201_CREATED)
def create_invite(body: InviteCreate, admin: AdminUser, context: ContextDep) -> InvitePublic:
    """A single-use code for ``SEMANTIK_REGISTRATION=invite``, shown this once."""
    code, expires = context.users.create_invite(body.expires_in_hours, admin.user_id)
    return InvitePublic(code=code, expires_at=expires)


@router.get("/directory")
def directory(_: CurrentUser, context: ContextDep) -> Directory:
    """The enabled users and the teams, by name: whom a collection can be shared with."""
    index = context.users.index
    users = [u for u in index.people() if not u.disabled]
    return Directory(
        users=[
            MemberRef(id=u.id, username=u.username)
            for u in sorted(users, key=lambda u: u.username.casefold())
        ],
        teams=[
            TeamRef(id=t.id, name=t.name)
            for t in sorted(index.teams.values(), key=lambda t: t.name.casefold())
        ],
    )
