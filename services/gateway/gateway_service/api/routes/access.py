"""``/api/v2/collections/{id}/access``: who may do what on a collection (SPEC §11). The
owner grants ``viewer`` or ``editor`` to users or teams; each grant and revoke is an
event in the collection's log, effective at once (open WebSockets included)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status
from semantik_contracts import PrincipalType
from semantik_contracts.commands import GetAccess, GrantAccess, RevokeAccess
from semantik_contracts.views import CollectionAccess, CollectionView
from semantik_runtime.errors import not_found

from ...access_schemas import AccessPublic, GrantPublic, RoleUpdate
from ...context import GatewayContext
from ..deps import BackendDep, ContextDep, CurrentUser

router = APIRouter(prefix="/collections/{collection_id}/access", tags=["access"])


def name_of(
    context: GatewayContext, principal_type: PrincipalType, principal_id: str
) -> str | None:
    index = context.users.index
    if principal_type is PrincipalType.USER:
        user = index.user(principal_id)
        return user.username if user else None
    try:
        team = index.teams.get(UUID(principal_id))
    except ValueError:
        return None
    return team.name if team else None


def access_public(access: CollectionAccess, context: GatewayContext) -> AccessPublic:
    return AccessPublic(
        collection_id=access.collection_id,
        owner=access.owner,
        owner_name=name_of(context, PrincipalType.USER, access.owner),
        grants=[
            GrantPublic(
                principal_type=g.principal_type,
                principal_id=g.principal_id,
                principal_name=name_of(context, g.principal_type, g.principal_id),
                role=g.role,
            )
            for g in access.grants
        ],
    )


@router.get("")
async def get_access(
    collection_id: UUID, user: CurrentUser, backend: BackendDep, context: ContextDep
) -> AccessPublic:
    """The owner and the grants (the owner's to see)."""
    access = await backend.ask(
        GetAccess(**user.acting, collection_id=collection_id), CollectionAccess
    )
    return access_public(access, context)


@router.put("/{principal_type}/{principal_id}")
async def grant(
    collection_id: UUID,
    principal_type: PrincipalType,
    principal_id: UUID,
    body: RoleUpdate,
    user: CurrentUser,
    backend: BackendDep,
    context: ContextDep,
) -> AccessPublic:
    """Give (or change) a user's or a team's role: ``viewer`` or ``editor``."""
    # The owner's right first, so that nobody else learns which ids exist.
    await backend.ask(GetAccess(**user.acting, collection_id=collection_id), CollectionAccess)
    if name_of(context, principal_type, str(principal_id)) is None:
        raise not_found(principal_type.value, principal_id)
    command = GrantAccess(
        **user.acting,
        collection_id=collection_id,
        principal_type=principal_type,
        principal_id=str(principal_id),
        role=body.role,
    )
    await backend.ask(command, CollectionView)
    return await get_access(collection_id, user, backend, context)


@router.delete("/{principal_type}/{principal_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke(
    collection_id: UUID,
    principal_type: PrincipalType,
    principal_id: UUID,
    user: CurrentUser,
    backend: BackendDep,
) -> Response:
    """Take the grant back, at once."""
    command = RevokeAccess(
        **user.acting,
        collection_id=collection_id,
        principal_type=principal_type,
        principal_id=str(principal_id),
    )
    await backend.ask(command, CollectionView)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
