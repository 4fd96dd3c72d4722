"""Who may do what on a collection (SPEC §11). Pure: no I/O.

The creator owns a collection; others hold the roles granted to them or to a team they
belong to, the highest one counting. Each role holds the ones below it.
"""

from __future__ import annotations

from collections.abc import Iterable

from semantik_contracts import CollectionRole, ErrorCode
from semantik_runtime.errors import CommandError

from .domain import Collection


def role_of(collection: Collection, actor: str, teams: Iterable[str]) -> CollectionRole | None:
    """The actor's role on the collection, or None when it is not shared with them."""
    if collection.owner == actor:
        return CollectionRole.OWNER
    held = [collection.grants.get(f"user:{actor}")]
    held += [collection.grants.get(f"team:{team}") for team in teams]
    roles = [CollectionRole(role) for role in held if role is not None]
    return max(roles, key=lambda role: role.rank, default=None)


def lacking(collection: Collection, role: CollectionRole, needed: CollectionRole) -> CommandError:
    """The refusal of an action the actor's role does not allow (403)."""
    return CommandError(
        ErrorCode.FORBIDDEN,
        f"your role on collection {collection.name!r} is {role}; this needs {needed}",
        role=role.value,
        needed=needed.value,
    )


def check_grantable(
    collection: Collection, principal_type: str, principal_id: str, role: str
) -> None:
    """Only viewer and editor are granted; the owner holds ownership already."""
    if role == CollectionRole.OWNER:
        raise CommandError(ErrorCode.INVALID, "ownership cannot be granted; grant viewer or editor")
    if principal_type == "user" and principal_id == collection.owner:
        raise CommandError(ErrorCode.INVALID, "the owner already holds every right")
