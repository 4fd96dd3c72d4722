"""The status machines of collections and operations (SPEC §3). Pure: no I/O.

A collection's status says what a user can do with it; an operation's says where the
job is. Every change is checked against the tables below, and what a user asks for in
the wrong state is an ``IllegalTransition`` (409 at the gateway) naming both.
"""

from __future__ import annotations

from typing import Any

from semantik_contracts import CollectionStatus, ErrorCode, OperationStatus, OperationType
from semantik_runtime.errors import CommandError

_C = CollectionStatus
_O = OperationStatus

#: Which collection status may follow which. ``pending``/``error`` belong to a
#: collection never indexed; the others to one whose data is searchable.
COLLECTION_TRANSITIONS: dict[CollectionStatus, frozenset[CollectionStatus]] = {
    _C.PENDING: frozenset({_C.READY, _C.ERROR}),
    _C.ERROR: frozenset({_C.PENDING}),  # the first index is tried again
    _C.READY: frozenset({_C.PROCESSING, _C.REINDEXING}),
    _C.DEGRADED: frozenset({_C.PROCESSING, _C.REINDEXING}),
    _C.PROCESSING: frozenset({_C.READY, _C.DEGRADED}),
    _C.REINDEXING: frozenset({_C.READY, _C.DEGRADED}),
}

OPERATION_TRANSITIONS: dict[OperationStatus, frozenset[OperationStatus]] = {
    _O.QUEUED: frozenset({_O.PENDING, _O.FAILED, _O.CANCELLED}),
    _O.PENDING: frozenset({_O.PROCESSING, _O.FAILED, _O.CANCELLED}),
    _O.PROCESSING: frozenset({_O.COMPLETED, _O.FAILED, _O.CANCELLED}),
    _O.COMPLETED: frozenset(),
    _O.FAILED: frozenset(),
    _O.CANCELLED: frozenset(),
}

#: The statuses an operation type may start from (besides "no other operation runs").
#: Reindex rebuilds searchable data, so it needs some: ready or degraded.
ADMITTED_FROM: dict[OperationType, frozenset[CollectionStatus]] = {
    OperationType.INDEX: frozenset({_C.PENDING, _C.ERROR, _C.READY, _C.DEGRADED}),
    OperationType.APPEND: frozenset({_C.PENDING, _C.ERROR, _C.READY, _C.DEGRADED}),
    OperationType.REMOVE_SOURCE: frozenset({_C.PENDING, _C.ERROR, _C.READY, _C.DEGRADED}),
    OperationType.REINDEX: frozenset({_C.READY, _C.DEGRADED}),
    OperationType.DELETE: frozenset(CollectionStatus),
}


class IllegalTransition(CommandError):
    """A command that the current state does not allow: a 409 with a message."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(ErrorCode.CONFLICT, message, **details)


def check_collection_transition(current: CollectionStatus, target: CollectionStatus) -> None:
    if target != current and target not in COLLECTION_TRANSITIONS[current]:
        raise IllegalTransition(
            f"a {current} collection cannot become {target}",
            status=current.value,
            requested=target.value,
        )


def check_operation_transition(
    operation: object, current: OperationStatus, target: OperationStatus
) -> None:
    if target not in OPERATION_TRANSITIONS[current]:
        raise IllegalTransition(
            f"operation {operation} is already {current}"
            if current.is_terminal
            else f"operation {operation} is {current} and cannot become {target}",
            status=current.value,
            requested=target.value,
        )


def check_admission(name: str, status: CollectionStatus, operation_type: OperationType) -> None:
    """May an operation of this type start on a collection in this status?"""
    if status not in ADMITTED_FROM[operation_type]:
        needs = " or ".join(sorted(s.value for s in ADMITTED_FROM[operation_type]))
        raise IllegalTransition(
            f"cannot start {operation_type} on collection {name!r}: it is {status}; "
            f"{operation_type} needs a collection that is {needs}",
            status=status.value,
            operation_type=operation_type.value,
        )


def running_status(operation_type: OperationType, indexed: bool) -> CollectionStatus:
    """The collection's status while an operation runs (SPEC §3)."""
    if not indexed:
        return _C.PENDING  # nothing searchable yet, whatever the operation
    return _C.REINDEXING if operation_type is OperationType.REINDEX else _C.PROCESSING


def finished_status(
    outcome: OperationStatus, indexed: bool, resting: CollectionStatus
) -> CollectionStatus:
    """The collection's status once its operation ended.

    Success makes searchable data ``ready`` (a collection never indexed stays as it
    was: a removed source does not make it indexed). A failure leaves a collection that
    had data ``degraded`` (its previous data still answers) and one that had none in
    ``error``. A cancellation is not a failure: the collection returns to the status it
    had when the operation was accepted.
    """
    if outcome is _O.COMPLETED:
        return _C.READY if indexed else resting
    if outcome is _O.FAILED:
        return _C.DEGRADED if indexed else _C.ERROR
    return resting
