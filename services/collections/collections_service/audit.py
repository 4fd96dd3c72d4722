"""The audit log's entries (seeds 002/004): who did what, when, and how it ended. Pure.

Every command leaves one entry in the event log: accepted ones in the same transaction
as their effects, rejected ones on their own. The audit read model folds them, so the
log holds the audit trail too and a rebuild gives it back unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event
from pydantic import BaseModel
from semantik_contracts import column_sets, commands, retry
from semantik_runtime.errors import CommandError

from .domain import Collection

F = TypeVar("F", bound=Callable[..., Any])

ACCEPTED = "accepted"
REJECTED = "rejected"

#: What each command is called in the audit log.
ACTIONS: dict[type[BaseModel], str] = {
    commands.CreateCollection: "collection.create",
    commands.UpdateCollection: "collection.update",
    commands.DeleteCollection: "collection.delete",
    commands.AddSource: "source.add",
    commands.ChangeSourceColumns: "source.change_columns",
    commands.ChangeSourceSync: "source.change_sync",
    commands.RescanSource: "source.rescan",
    commands.RemoveSource: "source.remove",
    commands.StartOperation: "operation.start",
    commands.CancelOperation: "operation.cancel",
    commands.GrantAccess: "access.grant",
    commands.RevokeAccess: "access.revoke",
    column_sets.SaveColumnSet: "column_set.save",
    column_sets.DeleteColumnSet: "column_set.delete",
    column_sets.ReembedSources: "source.reembed",
    retry.RetryFailed: "documents.retry",
}


class AuditRecord(Aggregate):
    """One audited command; its single event is the entry."""

    @event("CommandAudited")
    def __init__(
        self,
        id: UUID,
        actor: str,
        action: str,
        outcome: str,
        collection_id: UUID | None,
        target_id: UUID | None,
        code: str | None,
        message: str,
    ) -> None:
        self.actor = actor
        self.action = action
        self.outcome = outcome
        self.collection_id = collection_id
        self.target_id = target_id
        self.code = code
        self.message = message


def target_of(command: BaseModel) -> tuple[UUID | None, UUID | None]:
    """The collection a command is about and its most specific target."""
    collection_id = getattr(command, "collection_id", None)
    target = (
        getattr(command, "source_id", None)
        or getattr(command, "operation_id", None)
        or collection_id
    )
    return collection_id, target


def describe(command: BaseModel) -> str:
    """What an accepted command's entry says beyond its action and target: whose access
    changed (the grant events hold it too, but the audit log is read alone)."""
    principal = getattr(command, "principal_type", None)
    if principal is None:
        return ""
    role = getattr(command, "role", None)
    granted = f" as {role}" if role else ""
    return f"{principal} {getattr(command, 'principal_id', '')}{granted}"


def audited(method: F) -> F:
    """Record the command in the audit log, accepted (with its effects: the
    application's ``commit`` adds the entry) or rejected (``record_rejection``)."""

    @functools.wraps(method)
    def run(self: Any, cmd: BaseModel, *args: Any) -> Any:
        self._command = cmd
        try:
            return method(self, cmd, *args)
        except CommandError as exc:
            self._command = None
            self.record_rejection(cmd, exc)
            raise
        finally:
            self._command = None

    return run  # type: ignore[return-value]


def audit_entry(
    cmd: BaseModel,
    outcome: str,
    changed: tuple[Aggregate, ...],
    error: CommandError | None = None,
) -> AuditRecord:
    """The entry of one command, about the collection it names or created."""
    collection_id, target = target_of(cmd)
    if collection_id is None:  # a new collection, or a command naming an operation
        found = next((a for a in changed if isinstance(a, Collection)), None)
        collection_id = found.id if found else None
        target = target or collection_id
    return AuditRecord(
        id=uuid4(),
        actor=str(getattr(cmd, "actor", "")),
        action=ACTIONS[type(cmd)],
        outcome=outcome,
        collection_id=collection_id,
        target_id=target,
        code=error.code.value if error else None,
        message=error.message if error else describe(cmd),
    )
