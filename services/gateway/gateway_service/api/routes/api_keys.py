"""``/api/v1/api-keys``: keys for scripts and downstream systems (SPEC §11). A key acts
as its owner, narrowed to its scopes and collections; it is shown once, kept hashed,
and stops working at once when deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from fastapi import APIRouter, Response, status

from ...access_schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from ...accounts import ApiKey
from ..deps import ContextDep, CurrentUser

router = APIRouter(prefix="/api-keys", tags=["api keys"])


def key_public(key: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=key.id,
        name=key.name,
        scopes=key.scopes,
        collection_ids=None
        if key.collection_ids is None
        else [UUID(c) for c in key.collection_ids],
        expires_at=key.expires_at,
        created_at=key.created_on,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
def create_key(body: ApiKeyCreate, user: CurrentUser, context: ContextDep) -> ApiKeyCreated:
    """A new key; ``key`` is in this answer only."""
    expires = (
        datetime.now(UTC) + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    )
    collections = None if body.collection_ids is None else [str(c) for c in body.collection_ids]
    key, secret = context.users.create_api_key(
        user.user_id, body.name, list(body.scopes), collections, expires
    )
    return ApiKeyCreated(**key_public(key).model_dump(), key=secret)


@router.get("")
def list_keys(user: CurrentUser, context: ContextDep) -> list[ApiKeyPublic]:
    """The user's live keys (never the key itself)."""
    keys = [
        k for k in context.users.index.keys.values() if k.owner == user.user_id and not k.revoked
    ]
    return [key_public(k) for k in sorted(keys, key=lambda k: k.created_on)]


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_key(key_id: UUID, user: CurrentUser, context: ContextDep) -> Response:
    """Revoke: refused from the next request on, on every gateway."""
    context.users.revoke_api_key(user.user_id, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
