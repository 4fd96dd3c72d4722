"""What an operation tells ingest about the sources it reads (``OperationRequested``
``sources``), described when it starts: ingest reads no source state anywhere else."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from semantik_contracts import OperationType

from .domain import Collection, Source

#: A source of this service by id; None when there is none.
FindSource = Callable[[UUID], Source | None]


def describe(source: Source) -> dict[str, Any]:
    """A source as ``OperationSource`` reads it."""
    return {
        "source_id": str(source.id),
        "kind": source.kind,
        "path": source.path,
        "text_columns": list(source.text_columns),
        "context_columns": list(source.context_columns),
        "id_column": source.id_column,
        "removed": source.removed,
    }


def operation_sources(
    collection: Collection,
    op_type: OperationType,
    source_ids: list[UUID],
    find: FindSource,
    given: Sequence[Source] = (),
) -> list[dict[str, Any]]:
    """The sources the operation reads, as they are now (``given`` ones not saved yet, or
    changed by the same command). A ``remove_source`` describes the collection's other
    sources too: ingest scans again those that held content of the removed one."""
    known = {source.id: source for source in given}
    ids = list(source_ids)
    if op_type is OperationType.REMOVE_SOURCE:
        ids += [sid for sid in collection.source_ids if sid not in ids]
    found = [known.get(sid) or find(sid) for sid in ids]
    return [describe(source) for source in found if source is not None]
