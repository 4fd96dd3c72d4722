"""Accounts through the client: who is signed in, the instance's users (admin) and
your API keys."""

from __future__ import annotations

from collections.abc import Sequence

from .connection import Connection, Id, given
from .models import ApiKeyCreated, ApiKeyPublic, Me, UserAdmin


class Accounts(Connection):
    """The account routes of ``/api/v1`` (a base of ``SemantikClient``)."""

    async def me(self) -> Me:
        """The signed-in user: id, name, admin or not, teams."""
        return Me.model_validate(await self.call("GET", "/api/v1/auth/me"))

    async def list_users(self) -> list[UserAdmin]:
        """Every account of the instance (admin)."""
        return [UserAdmin.model_validate(user) for user in await self.call("GET", "/api/v1/users")]

    async def create_user(
        self, username: str, password: str, *, is_admin: bool = False
    ) -> UserAdmin:
        body = {"username": username, "password": password, "is_admin": is_admin}
        return UserAdmin.model_validate(await self.call("POST", "/api/v1/users", json=body))

    async def update_user(
        self,
        user_id: Id,
        *,
        is_admin: bool | None = None,
        disabled: bool | None = None,
        password: str | None = None,
    ) -> UserAdmin:
        """Promote, demote, disable, enable or set a password (admin)."""
        body = given(is_admin=is_admin, disabled=disabled, password=password)
        return UserAdmin.model_validate(
            await self.call("PATCH", f"/api/v1/users/{user_id}", json=body)
        )

    async def create_api_key(
        self,
        name: str,
        scopes: Sequence[str],
        *,
        collection_ids: Sequence[Id] | None = None,
        expires_in_days: int | None = None,
    ) -> ApiKeyCreated:
        """A key acting as you, narrowed to ``scopes`` (search, read, write) and to
        ``collection_ids`` if given; its ``key`` is in this answer only."""
        ids = None if collection_ids is None else [str(c) for c in collection_ids]
        body = {
            "name": name,
            "scopes": list(scopes),
            **given(collection_ids=ids, expires_in_days=expires_in_days),
        }
        return ApiKeyCreated.model_validate(await self.call("POST", "/api/v1/api-keys", json=body))

    async def list_api_keys(self) -> list[ApiKeyPublic]:
        return [
            ApiKeyPublic.model_validate(key) for key in await self.call("GET", "/api/v1/api-keys")
        ]

    async def delete_api_key(self, key_id: Id) -> None:
        """Revoke the key, at once."""
        await self.call("DELETE", f"/api/v1/api-keys/{key_id}")
