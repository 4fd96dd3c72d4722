"""A role check before a route does work of its own (reading files, listing documents)
that the collections service would refuse only at the end."""

from __future__ import annotations

from uuid import UUID

from semantik_contracts import CollectionRole, ErrorCode, RpcError, RpcFailure
from semantik_contracts.commands import GetCollection
from semantik_contracts.views import CollectionView

from ...backend import Backend
from ...principals import Principal


async def needs_editor(backend: Backend, user: Principal, collection_id: UUID) -> CollectionView:
    """The collection, when the user may change it: 404 when they cannot see it, 403
    (naming their role) when they only read it."""
    found = await backend.ask(
        GetCollection(**user.acting, collection_id=collection_id), CollectionView
    )
    role = found.my_role
    if role is not None and not role.allows(CollectionRole.EDITOR):
        message = f"your role on collection {found.name!r} is {role}; this needs editor"
        raise RpcFailure(RpcError(code=ErrorCode.FORBIDDEN, message=message))
    return found
