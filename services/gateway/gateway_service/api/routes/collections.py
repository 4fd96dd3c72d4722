"""``/api/v2/collections``: create, list, read, rename, delete (SPEC §7, §9)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from semantik_contracts import CollectionStatus
from semantik_contracts.commands import (
    CreateCollection,
    DeleteCollection,
    GetCollection,
    ListCollections,
    UpdateCollection,
)
from semantik_contracts.views import CollectionView, Page

from ...schemas import CollectionCreate, CollectionPublic, CollectionUpdate
from ..deps import BackendDep, CurrentUser

router = APIRouter(prefix="/collections", tags=["collections"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_collection(
    body: CollectionCreate, user: CurrentUser, backend: BackendDep
) -> CollectionPublic:
    """A new, empty collection (the default model when none is named)."""
    command = CreateCollection(**user.acting, **body.model_dump())
    view = await backend.ask(command, CollectionView)
    # A collection that was just created holds no vectors: no need to ask the store.
    return CollectionPublic.model_validate(view.model_dump())


@router.get("")
async def list_collections(
    user: CurrentUser,
    backend: BackendDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: CollectionStatus | None = None,
    name: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Name contains this")
    ] = None,
) -> Page[CollectionPublic]:
    """The collections the user owns or that are shared with them (``my_role`` says
    which), oldest first, filtered by status and by name."""
    query = ListCollections(
        **user.acting,
        status=status.value if status else None,
        name=name,
        limit=limit,
        offset=offset,
    )
    page = await backend.ask(query, Page[CollectionView])
    if user.collection_ids is not None:  # an API key limited to some collections
        items = [view for view in page.items if user.reaches(view.id)]
        page = Page[CollectionView](items=items, total=len(items), limit=limit, offset=offset)
    return await backend.public_page(page)


@router.get("/{collection_id}")
async def get_collection(
    collection_id: UUID, user: CurrentUser, backend: BackendDep
) -> CollectionPublic:
    """404 if there is no such collection, 403 if it belongs to someone else."""
    view = await backend.ask(
        GetCollection(**user.acting, collection_id=collection_id), CollectionView
    )
    return await backend.public(view)


@router.patch("/{collection_id}")
async def update_collection(
    collection_id: UUID, body: CollectionUpdate, user: CurrentUser, backend: BackendDep
) -> CollectionPublic:
    """Rename or describe; fields left out stay as they are."""
    command = UpdateCollection(
        **user.acting,
        collection_id=collection_id,
        name=body.name,
        description=body.description,
    )
    return await backend.public(await backend.ask(command, CollectionView))


@router.delete("/{collection_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_collection(
    collection_id: UUID, user: CurrentUser, backend: BackendDep
) -> Response:
    """Delete the collection (a running operation on it is cancelled)."""
    await backend.ask(DeleteCollection(**user.acting, collection_id=collection_id), CollectionView)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
