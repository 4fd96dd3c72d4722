"""Search one collection or several (SPEC §6, §9).

The gateway resolves each collection (ownership: 404/403; its model and active
generation) and the search service does the rest. A collection that fails or times out
inside the search service is a warning with ``partial: true``, not an error. The search
service's answer is a ``SearchResponse`` already, sent on as it came
(``Backend.search_json``).
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response
from semantik_contracts.search import SearchResponse

from ...schemas import MultiSearchRequest, SearchRequest
from ..deps import BackendDep, CurrentUser, SearchLimit

router = APIRouter(
    tags=["search"],
    dependencies=[SearchLimit],
    responses={429: {"description": "Too many searches; see Retry-After"}},
)


@router.post("/collections/{collection_id}/search", response_model=SearchResponse)
async def search_collection(
    collection_id: UUID, body: SearchRequest, user: CurrentUser, backend: BackendDep
) -> Response:
    found = await backend.search_json(user, [collection_id], body)
    return Response(found, media_type="application/json")


@router.post("/search", response_model=SearchResponse)
async def search_collections(
    body: MultiSearchRequest, user: CurrentUser, backend: BackendDep
) -> Response:
    """Federated search: results of every collection merged by rank."""
    found = await backend.search_json(user, body.collection_ids, body)
    return Response(found, media_type="application/json")
