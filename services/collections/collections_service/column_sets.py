"""Column preference sets per collection (seed 002 US3) and the batch re-embed of
several record sources (seed 002 US2).

A collection is seed 002's document group. Its column sets live in one aggregate per
collection (``ColumnSets``, id ``uuid5(collection_id, "column-sets")``), so saving and
deleting are events in the log like everything else; the read model folds them
(``ReadModel.column_sets``). The commands run on the application's writer thread and
are audited as the application's own are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from semantik_contracts import CollectionRole, ErrorCode, OperationType
from semantik_contracts.column_sets import (
    ColumnSetList,
    ColumnSetView,
    DeleteColumnSet,
    ListColumnSets,
    ReembedSources,
    ReembedStarted,
    SaveColumnSet,
)
from semantik_runtime.errors import CommandError

from .audit import audited
from .column_set_aggregate import MAX_COLUMN_SETS, ColumnSets, column_sets_id
from .domain import Collection, Source
from .operation import Operation
from .operation_queue import queue_position
from .projections import operation_view, source_view

if TYPE_CHECKING:
    from .application import CollectionsApplication


#: The params of a re-embed for new columns: its reindex skips the overlap check (new
#: columns make new documents, so old and new answers differ by design).
COLUMNS_CHANGED = "columns_changed"


def staged_reembed(
    app: CollectionsApplication,
    collection: Collection,
    actor: str,
    changed: list[Source],
    params: dict[str, Any] | None = None,
) -> Operation:
    """The operation that re-embeds ``changed`` (their new columns applied, not saved yet)
    staged (SPEC §12): a blue-green ``reindex`` of the whole collection into a staging
    generation. Search keeps reading the active generation, old rows and all, until every
    new row is written and checked; one event then makes the new generation active, so no
    search sees old and new rows together, or neither. A failure or a cancel drops the
    staging generation and leaves the active one as it was; a restart resumes the
    reindex from its checkpoint. A collection never indexed to completion has nothing
    to keep serving: it gets a plain ``index`` of the changed sources."""
    wanted = {COLUMNS_CHANGED: True, **(params or {})}
    if not collection.indexed_once:
        ids = [source.id for source in changed]
        return app.admission.request(
            collection, OperationType.INDEX, actor, ids, wanted, given=changed
        )
    return app.admission.request(
        collection, OperationType.REINDEX, actor, list(collection.source_ids), wanted, given=changed
    )


def _set_view(sets: ColumnSets, name: str) -> ColumnSetView:
    return ColumnSetView.model_validate(sets.sets[name])


@audited
def save_column_set(app: CollectionsApplication, cmd: SaveColumnSet) -> ColumnSetView:
    """Save the set ``cmd.name`` (an editor's right), replacing one of that name."""
    collection = app.collection_for(cmd, cmd.collection_id, CollectionRole.EDITOR)
    sets = app.read_model.column_sets.get(column_sets_id(collection.id))
    if sets is None:
        sets = ColumnSets(id=column_sets_id(collection.id), collection_id=collection.id)
    else:
        sets = app.repository.get(sets.id)
    if cmd.name not in sets.sets and len(sets.sets) >= MAX_COLUMN_SETS:
        raise CommandError(
            ErrorCode.CONFLICT,
            f"collection {collection.name!r} already holds {MAX_COLUMN_SETS} column sets; "
            "delete one first",
        )
    if cmd.id_column is not None and cmd.id_column in cmd.text_columns:
        raise CommandError(ErrorCode.INVALID, "id_column must not also be a text column")
    sets.save(
        name=cmd.name,
        text_columns=list(cmd.text_columns),
        context_columns=list(cmd.context_columns),
        id_column=cmd.id_column,
        saved_by=cmd.actor,
        saved_at=datetime.now(UTC).isoformat(),
    )
    app.commit(sets)
    return _set_view(sets, cmd.name)


def list_column_sets(app: CollectionsApplication, q: ListColumnSets) -> ColumnSetList:
    """The collection's sets by name (anyone who may read the collection)."""
    app.read_model.collection_for(q.actor, q.teams, q.collection_id)
    sets = app.read_model.column_sets.get(column_sets_id(q.collection_id))
    return ColumnSetList(items=sets.views() if sets is not None else [])


@audited
def delete_column_set(app: CollectionsApplication, cmd: DeleteColumnSet) -> ColumnSetList:
    """Delete the set ``cmd.name``; 404 when the collection has none of that name."""
    collection = app.collection_for(cmd, cmd.collection_id, CollectionRole.EDITOR)
    known = app.read_model.column_sets.get(column_sets_id(collection.id))
    if known is None or cmd.name not in known.sets:
        raise CommandError(
            ErrorCode.NOT_FOUND, f"column set {cmd.name!r} not found in this collection"
        )
    sets: ColumnSets = app.repository.get(known.id)
    sets.delete(name=cmd.name)
    app.commit(sets)
    return ColumnSetList(items=sets.views())


@audited
def reembed_sources(app: CollectionsApplication, cmd: ReembedSources) -> ReembedStarted:
    """New columns for every source named, re-embedded together by one staged operation
    (``staged_reembed``), queued behind a running one. All or nothing: one source that
    cannot take the columns refuses the whole batch."""
    if len(set(cmd.source_ids)) != len(cmd.source_ids):
        raise CommandError(ErrorCode.INVALID, "source_ids names a source twice")
    sources: list[Source] = [
        app.source_for(cmd, cmd.collection_id, source_id) for source_id in cmd.source_ids
    ]
    collection = app.collection_for(cmd, cmd.collection_id, CollectionRole.EDITOR)
    for source in sources:
        source.change_columns(list(cmd.text_columns), list(cmd.context_columns), cmd.id_column)
    params = {"column_set": cmd.column_set} if cmd.column_set is not None else {}
    operation = staged_reembed(app, collection, cmd.actor, sources, params)
    app.commit(collection, *sources, operation)
    return ReembedStarted(
        sources=[source_view(source) for source in sources],
        operation=operation_view(operation, queue_position(collection, operation.id)),
    )


Handler = Callable[[Any], Awaitable[BaseModel]]


def column_set_handlers(
    app: CollectionsApplication, direct: Callable[[Callable[[Any], BaseModel]], Handler]
) -> list[tuple[type[BaseModel], Handler]]:
    """The bus handlers of this module's commands, run as the application's are."""
    return [
        (SaveColumnSet, direct(partial(save_column_set, app))),
        (ListColumnSets, direct(partial(list_column_sets, app))),
        (DeleteColumnSet, direct(partial(delete_column_set, app))),
        (ReembedSources, direct(partial(reembed_sources, app))),
    ]
