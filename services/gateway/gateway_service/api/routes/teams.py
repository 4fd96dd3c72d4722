"""``/api/v1/teams``: teams and their members (SPEC §11). Admins make teams and choose
their members; a user sees the teams they belong to. A member removed loses, at once,
what was shared with the team (open WebSocket subscriptions included)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from ...access_schemas import MemberAdd, MemberRef, TeamCreate, TeamPublic
from ...accounts import Team
from ...users import UsersApplication
from ..deps import AdminUser, ContextDep, CurrentUser

router = APIRouter(prefix="/teams", tags=["teams"])


def team_public(team: Team, users: UsersApplication) -> TeamPublic:
    members = [users.index.user(member) for member in team.members]
    return TeamPublic(
        id=team.id,
        name=team.name,
        members=[MemberRef(id=m.id, username=m.username) for m in members if m is not None],
    )


@router.post("", status_code=status.HTTP_201_CREATED)
def create_team(body: TeamCreate, admin: AdminUser, context: ContextDep) -> TeamPublic:
    """A new team (409 if the name exists, in any letter case)."""
    return team_public(context.users.create_team(body.name, admin.user_id), context.users)


@router.get("")
def list_teams(user: CurrentUser, context: ContextDep) -> list[TeamPublic]:
    """Every team for an admin; the user's own teams otherwise."""
    index = context.users.index
    teams = sorted(index.teams.values(), key=lambda t: t.name.casefold())
    if not user.is_admin:
        teams = [t for t in teams if user.user_id in t.members]
    return [team_public(t, context.users) for t in teams]


@router.post("/{team_id}/members")
def add_member(team_id: UUID, body: MemberAdd, _: AdminUser, context: ContextDep) -> TeamPublic:
    return team_public(context.users.add_member(team_id, body.user_id), context.users)


@router.delete("/{team_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(team_id: UUID, user_id: UUID, _: AdminUser, context: ContextDep) -> Response:
    context.users.remove_member(team_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
