"""``/api/v1/source-roots``: the directories a user or a team may add path sources from
(SPEC §11). Only admins grant them; a path must lie inside the configured roots, which
ingest checks as it resolves it (symlinks and ``..`` included)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status
from fastapi.concurrency import run_in_threadpool
from semantik_contracts import ErrorCode, SourceKind
from semantik_contracts.commands import ValidatedSource, ValidateSource
from semantik_runtime.errors import CommandError

from ...access_schemas import SourceRootCreate, SourceRootPublic
from ...accounts import SourceRoot
from ..deps import AdminUser, BackendDep, ContextDep, CurrentUser

router = APIRouter(prefix="/source-roots", tags=["source roots"])


def root_public(root: SourceRoot) -> SourceRootPublic:
    return SourceRootPublic(
        id=root.id,
        path=root.path,
        user_id=UUID(root.user_id) if root.user_id else None,
        team_id=UUID(root.team_id) if root.team_id else None,
        created_at=root.created_on,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def grant_root(
    body: SourceRootCreate, admin: AdminUser, backend: BackendDep, context: ContextDep
) -> SourceRootPublic:
    """Let a user or a team add paths under ``path`` (a directory in the configured
    roots, and never Semantik's own data)."""
    resolved = await backend.ask_ingest(ValidateSource(path=body.path), ValidatedSource)
    if resolved.kind is not SourceKind.DIRECTORY:
        raise CommandError(ErrorCode.INVALID, f"{body.path} is not a directory")
    granted = await run_in_threadpool(
        context.users.grant_source_root, resolved.path, body.user_id, body.team_id, admin.user_id
    )
    return root_public(granted)


@router.get("")
def list_roots(user: CurrentUser, context: ContextDep) -> list[SourceRootPublic]:
    """Every grant for an admin; the user's own (and their teams') otherwise."""
    index = context.users.index
    if user.is_admin:
        roots = [r for r in index.roots.values() if not r.revoked]
    else:
        roots = index.roots_of(user.user_id)
    return [root_public(r) for r in sorted(roots, key=lambda r: r.created_on)]


@router.delete("/{root_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_root(root_id: UUID, admin: AdminUser, context: ContextDep) -> Response:
    """Sources added under it stay; no new ones can be."""
    context.users.revoke_source_root(root_id, admin.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
