"""``/api/v2/collections/{id}/column-sets``: a collection's saved column preference sets
(seed 002 US3), and ``/sources/reembed``: new columns for several record sources at
once, one operation per source (seed 002 US2).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import Field, ValidationError, model_validator
from semantik_contracts import ErrorCode, RpcError, RpcFailure, SourceKind
from semantik_contracts.column_sets import (
    MAX_REEMBED_SOURCES,
    ColumnChoice,
    ColumnSetList,
    ColumnSetView,
    DeleteColumnSet,
    ListColumnSets,
    ReembedSources,
    ReembedStarted,
    SaveColumnSet,
    SetName,
)
from semantik_contracts.commands import ListSources, ValidatedSource, ValidateSource
from semantik_contracts.views import SourceList

from ...schemas import RequestBody, SourceColumnsUpdate
from ..deps import BackendDep, CurrentUser

router = APIRouter(prefix="/collections/{collection_id}", tags=["sources"])

Column = Annotated[str, Field(min_length=1, max_length=200)]


class ColumnSetBody(RequestBody):
    """A named column preference set: the columns to embed, those kept as filterable
    payload, and the column holding each row's id."""

    name: SetName
    text_columns: list[Column] = Field(min_length=1, max_length=200)
    context_columns: list[Column] = Field(default_factory=list, max_length=200)
    id_column: Column | None = None


class ReembedBody(RequestBody):
    """Sources to embed again with new columns: a saved set's (``column_set``) or the
    columns given (``text_columns``…), not both."""

    source_ids: list[UUID] = Field(min_length=1, max_length=MAX_REEMBED_SOURCES)
    column_set: SetName | None = None
    text_columns: list[Column] | None = Field(None, min_length=1, max_length=200)
    context_columns: list[Column] = Field(default_factory=list, max_length=200)
    id_column: Column | None = None

    @model_validator(mode="after")
    def _one_choice(self) -> ReembedBody:
        if (self.column_set is None) == (self.text_columns is None):
            raise ValueError("give either column_set or text_columns")
        if self.column_set is not None and (self.context_columns or self.id_column):
            raise ValueError("context_columns and id_column come from the column set")
        return self


@router.get("/column-sets")
async def list_column_sets(
    collection_id: UUID, user: CurrentUser, backend: BackendDep
) -> ColumnSetList:
    """The collection's column sets, by name."""
    query = ListColumnSets(**user.acting, collection_id=collection_id)
    return await backend.ask(query, ColumnSetList)


@router.post("/column-sets", status_code=status.HTTP_201_CREATED)
async def save_column_set(
    collection_id: UUID, body: ColumnSetBody, user: CurrentUser, backend: BackendDep
) -> ColumnSetView:
    """Save a column set under ``name``, replacing the collection's set of that name."""
    command = SaveColumnSet(**user.acting, collection_id=collection_id, **body.model_dump())
    return await backend.ask(command, ColumnSetView)


@router.delete("/column-sets/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_column_set(
    collection_id: UUID,
    name: Annotated[SetName, Path()],
    user: CurrentUser,
    backend: BackendDep,
) -> Response:
    """Delete the set ``name``; sources that took its columns keep them. A name no set
    can have (blank, a control character, over 100 characters) is a 422."""
    command = DeleteColumnSet(**user.acting, collection_id=collection_id, name=name)
    await backend.ask(command, ColumnSetList)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/sources/reembed", status_code=status.HTTP_202_ACCEPTED)
async def reembed_sources(
    collection_id: UUID, body: ReembedBody, user: CurrentUser, backend: BackendDep
) -> ReembedStarted:
    """Embed several record sources again with new columns: 202 with the sources and the
    one staged operation re-embedding them (a ``reindex`` of the collection: search
    keeps the old rows until every new one is written, then switches at once), queued
    behind a running one. Every source's file is checked for the columns first: one
    that lacks them refuses the whole batch, nothing is changed."""
    choice = await _choice(collection_id, body, user, backend)
    listed = await backend.ask(ListSources(**user.acting, collection_id=collection_id), SourceList)
    by_id = {source.id: source for source in listed.items}
    for source_id in body.source_ids:
        source = by_id.get(source_id)
        if source is not None and source.kind is not SourceKind.DIRECTORY:
            check = ValidateSource(path=source.path, **choice.model_dump())
            await backend.ask_ingest(check, ValidatedSource)
    command = ReembedSources(
        **user.acting,
        collection_id=collection_id,
        source_ids=body.source_ids,
        column_set=body.column_set,
        **choice.model_dump(),
    )
    return await backend.ask(command, ReembedStarted)


async def _choice(
    collection_id: UUID, body: ReembedBody, user: CurrentUser, backend: BackendDep
) -> ColumnChoice:
    if body.text_columns is not None:
        return ColumnChoice(
            text_columns=body.text_columns,
            context_columns=body.context_columns,
            id_column=body.id_column,
        )
    assert body.column_set is not None  # one of the two (ReembedBody._one_choice)
    return await _saved_set(collection_id, body.column_set, user, backend)


async def _saved_set(
    collection_id: UUID, name: str, user: CurrentUser, backend: BackendDep
) -> ColumnChoice:
    """The columns of the collection's set ``name``; 404 when it has none of that name."""
    listed = await backend.ask(
        ListColumnSets(**user.acting, collection_id=collection_id), ColumnSetList
    )
    found = next((s for s in listed.items if s.name == name), None)
    if found is None:
        message = f"column set {name!r} not found in this collection"
        raise RpcFailure(RpcError(code=ErrorCode.NOT_FOUND, message=message))
    return ColumnChoice(
        text_columns=found.text_columns,
        context_columns=found.context_columns,
        id_column=found.id_column,
    )


async def form_columns(
    backend: BackendDep,
    user: CurrentUser,
    collection_id: UUID,
    fields: dict[str, list[str]],
    given: SourceColumnsUpdate,
) -> SourceColumnsUpdate:
    """An upload form's columns: those of its ``column_set`` field (a saved set of the
    collection; 404 when it has none of that name), else ``given``. A form naming a set
    and columns as well is a 422."""
    names = fields.get("column_set", [])
    if not names:
        return given
    try:
        name = ColumnSetName.model_validate({"column_set": names[0]}).column_set
    except ValidationError as invalid:
        errors = invalid.errors(include_url=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
    if len(names) > 1 or given.text_columns or given.context_columns or given.id_column:
        error = {
            "type": "value_error",
            "loc": ("body", "column_set"),
            "msg": "give column_set once and no text_columns, context_columns or id_column",
        }
        raise RequestValidationError([error])
    chosen = await _saved_set(collection_id, name, user, backend)
    return SourceColumnsUpdate(**chosen.model_dump())


class ColumnSetName(RequestBody):
    column_set: SetName
