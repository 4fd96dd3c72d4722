"""Column preference sets (seed 002 US3) and the batch re-embed of sources (seed 002 US2).

A collection is seed 002's document group: its column sets are named, saved, listed,
deleted and applied to its record sources. Commands to the collections service
(``semantik.cmd.collections.<Command>``), with the views they answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field

from .base import Message
from .commands import Actor
from .views import OperationView, SourceView

#: The most sources one batch re-embed names.
MAX_REEMBED_SOURCES = 50


def _set_name(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if any(not ch.isprintable() for ch in value):
        raise ValueError("must hold printable characters only")
    if "/" in value:
        raise ValueError("must not hold '/'")
    return value


#: A column set's name: 1..100 printable characters, no '/', not only spaces.
SetName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_set_name)]
ColumnName = Annotated[str, Field(min_length=1, max_length=200)]


class ColumnChoice(Message):
    """What a record source embeds (``text_columns``), keeps as filterable payload
    (``context_columns``) and takes as each row's id (``id_column``)."""

    text_columns: list[ColumnName] = Field(min_length=1, max_length=200)
    context_columns: list[ColumnName] = Field(default_factory=list, max_length=200)
    id_column: ColumnName | None = None


class SaveColumnSet(Actor, ColumnChoice):
    """Save (or replace) the collection's column set ``name``."""

    collection_id: UUID
    name: SetName


class ListColumnSets(Actor):
    collection_id: UUID


class DeleteColumnSet(Actor):
    collection_id: UUID
    name: SetName


class ColumnSetView(Message):
    name: str
    text_columns: list[str]
    context_columns: list[str]
    id_column: str | None
    saved_by: str
    saved_at: datetime


class ColumnSetList(Message):
    items: list[ColumnSetView] = Field(description="The collection's column sets, by name")


class ReembedSources(Actor, ColumnChoice):
    """New columns for several record sources of one collection, re-embedded together
    by one staged operation (a blue-green ``reindex``), queued behind the collection's
    running one. ``column_set`` names the saved set the columns come from (kept in the
    operation's params)."""

    collection_id: UUID
    source_ids: list[UUID] = Field(min_length=1, max_length=MAX_REEMBED_SOURCES)
    column_set: SetName | None = None


class ReembedStarted(Message):
    sources: list[SourceView] = Field(description="The sources with their new columns")
    operation: OperationView = Field(description="The staged operation re-embedding them")
