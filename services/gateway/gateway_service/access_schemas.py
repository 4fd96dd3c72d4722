"""HTTP schemas of accounts, teams, API keys, source roots and collection access
(SPEC §11). Bodies are ``RequestBody``: bad input is a 422 naming the field."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field
from semantik_contracts import CollectionRole, PrincipalType

from .schemas import USERNAME_PATTERN, RequestBody, ServerPath

Password = Field(min_length=8, max_length=256)
RegistrationMode = Literal["closed", "invite", "open"]
Scope = Literal["search", "read", "write"]


class TeamRef(BaseModel):
    id: UUID
    name: str


class Me(BaseModel):
    id: UUID
    username: str
    email: str | None
    is_admin: bool
    teams: list[TeamRef]
    created_at: datetime


class UserAdmin(BaseModel):
    id: UUID
    username: str
    email: str | None
    is_admin: bool
    disabled: bool
    operator: bool = Field(description="The CLI's local account: an admin that is no person")
    created_at: datetime


class UserAdminCreate(RequestBody):
    username: str = Field(min_length=3, max_length=64, pattern=USERNAME_PATTERN)
    password: str = Password
    is_admin: bool = False


class UserAdminUpdate(RequestBody):
    is_admin: bool | None = None
    disabled: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=256)


class Registration(BaseModel):
    mode: RegistrationMode
    first_account: bool = Field(description="Nobody registered yet: the next account is admin")


class RegistrationUpdate(RequestBody):
    mode: RegistrationMode


class InviteCreate(RequestBody):
    expires_in_hours: int = Field(72, ge=1, le=24 * 90)


class InvitePublic(BaseModel):
    code: str
    expires_at: datetime


class TeamCreate(RequestBody):
    name: str = Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")


class MemberRef(BaseModel):
    id: UUID
    username: str


class TeamPublic(BaseModel):
    id: UUID
    name: str
    members: list[MemberRef]


class MemberAdd(RequestBody):
    user_id: UUID


class Directory(BaseModel):
    users: list[MemberRef]
    teams: list[TeamRef]


class ApiKeyCreate(RequestBody):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1, max_length=3)
    collection_ids: list[UUID] | None = Field(None, max_length=500)
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class ApiKeyPublic(BaseModel):
    id: UUID
    name: str
    scopes: list[str]
    collection_ids: list[UUID] | None
    expires_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="Shown this once; only its hash is kept")


class SourceRootCreate(RequestBody):
    path: ServerPath
    user_id: UUID | None = None
    team_id: UUID | None = None


class SourceRootPublic(BaseModel):
    id: UUID
    path: str
    user_id: UUID | None
    team_id: UUID | None
    created_at: datetime


class RoleUpdate(RequestBody):
    role: Literal[CollectionRole.VIEWER, CollectionRole.EDITOR]


class GrantPublic(BaseModel):
    principal_type: PrincipalType
    principal_id: str
    principal_name: str | None
    role: CollectionRole


class AccessPublic(BaseModel):
    collection_id: UUID
    owner: str
    owner_name: str | None
    grants: list[GrantPublic]
