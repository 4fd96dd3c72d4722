"""A collection's column preference sets as an aggregate (seed 002 US3). Pure: no I/O.

One aggregate per collection, id ``uuid5(collection_id, "column-sets")``: saving and
deleting a set are events in the log; the read model folds them.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event
from semantik_contracts.column_sets import ColumnSetView

#: The most column sets one collection holds.
MAX_COLUMN_SETS = 100


def column_sets_id(collection_id: UUID) -> UUID:
    """The id of a collection's ``ColumnSets`` aggregate."""
    return uuid5(collection_id, "column-sets")


class ColumnSets(Aggregate):
    """A collection's named column preference sets."""

    @event("ColumnSetsOpened")
    def __init__(self, id: UUID, collection_id: UUID) -> None:
        self.collection_id = collection_id
        self.sets: dict[str, dict[str, Any]] = {}

    @event("ColumnSetSaved")
    def save(
        self,
        name: str,
        text_columns: list[str],
        context_columns: list[str],
        id_column: str | None,
        saved_by: str,
        saved_at: str,
    ) -> None:
        self.sets[name] = {
            "name": name,
            "text_columns": text_columns,
            "context_columns": context_columns,
            "id_column": id_column,
            "saved_by": saved_by,
            "saved_at": saved_at,
        }

    @event("ColumnSetDeleted")
    def delete(self, name: str) -> None:
        self.sets.pop(name, None)

    def views(self) -> list[ColumnSetView]:
        return [ColumnSetView.model_validate(self.sets[name]) for name in sorted(self.sets)]
