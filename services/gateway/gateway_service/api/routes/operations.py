"""Operations: start (index, reindex), list, read, cancel (SPEC §7, §9)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status
from semantik_contracts import OperationStatus, OperationType
from semantik_contracts.commands import (
    CancelOperation,
    GetOperation,
    ListOperations,
    StartOperation,
)
from semantik_contracts.views import OperationView, Page

from ...schemas import ReindexRequest
from ..deps import BackendDep, CurrentUser

router = APIRouter(tags=["operations"])

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]
TypeFilter = Annotated[OperationType | None, Query(alias="type", description="Operation type")]


@router.post("/collections/{collection_id}/operations/index", status_code=status.HTTP_202_ACCEPTED)
async def start_index(collection_id: UUID, user: CurrentUser, backend: BackendDep) -> OperationView:
    """Re-scan every source: unchanged documents are skipped, changed ones replaced."""
    command = StartOperation(
        **user.acting, collection_id=collection_id, operation_type=OperationType.INDEX
    )
    return await backend.ask(command, OperationView)


@router.post(
    "/collections/{collection_id}/operations/reindex", status_code=status.HTTP_202_ACCEPTED
)
async def start_reindex(
    collection_id: UUID, body: ReindexRequest, user: CurrentUser, backend: BackendDep
) -> OperationView:
    """Blue-green reindex with new settings; search keeps using the active generation."""
    command = StartOperation(
        **user.acting,
        collection_id=collection_id,
        operation_type=OperationType.REINDEX,
        params=body.model_dump(exclude_none=True),
    )
    return await backend.ask(command, OperationView)


@router.get("/collections/{collection_id}/operations")
async def list_collection_operations(
    collection_id: UUID,
    user: CurrentUser,
    backend: BackendDep,
    limit: Limit = 50,
    offset: Offset = 0,
    status: OperationStatus | None = None,
    operation_type: TypeFilter = None,
) -> Page[OperationView]:
    """The collection's operations, newest first, filtered by status and type."""
    query = ListOperations(
        **user.acting,
        collection_id=collection_id,
        status=status.value if status else None,
        operation_type=operation_type.value if operation_type else None,
        limit=limit,
        offset=offset,
    )
    return await backend.ask(query, Page[OperationView])


@router.get("/operations")
async def list_operations(
    user: CurrentUser,
    backend: BackendDep,
    limit: Limit = 50,
    offset: Offset = 0,
    status: OperationStatus | None = None,
    operation_type: TypeFilter = None,
) -> Page[OperationView]:
    """Every operation on the user's collections, newest first (``?status=processing``,
    ``?type=index``)."""
    query = ListOperations(
        **user.acting,
        status=status.value if status else None,
        operation_type=operation_type.value if operation_type else None,
        limit=limit,
        offset=offset,
    )
    page = await backend.ask(query, Page[OperationView])
    if user.collection_ids is None:
        return page
    # An API key limited to some collections sees their operations only.
    items = [op for op in page.items if user.reaches(op.collection_id)]
    return Page[OperationView](items=items, total=len(items), limit=limit, offset=offset)


@router.get("/operations/{operation_id}")
async def get_operation(
    operation_id: UUID, user: CurrentUser, backend: BackendDep
) -> OperationView:
    found = await backend.ask(GetOperation(**user.acting, operation_id=operation_id), OperationView)
    user.check_collections([found.collection_id])
    return found


@router.post("/operations/{operation_id}/cancel")
async def cancel_operation(
    operation_id: UUID, user: CurrentUser, backend: BackendDep
) -> OperationView:
    if user.collection_ids is not None:
        await get_operation(operation_id, user, backend)
    return await backend.ask(
        CancelOperation(**user.acting, operation_id=operation_id), OperationView
    )
