"""``GET /api/v2/collections/{id}/documents/{document_id}/content``: the document's
original file, streamed (SPEC §6); see ``document_content``."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from ...document_content import open_content
from ..deps import BackendDep, CurrentUser

router = APIRouter(prefix="/collections/{collection_id}", tags=["documents"])

_FILE = {
    "description": "The file as it is now, as an attachment",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}


@router.get(
    "/documents/{document_id}/content", response_class=StreamingResponse, responses={200: _FILE}
)
async def get_document_content(
    collection_id: UUID, document_id: UUID, user: CurrentUser, backend: BackendDep
) -> StreamingResponse:
    """The original file of a document (a path source's file, an upload, a record's
    table file), with its media type, ``Content-Disposition: attachment`` and its
    length. ``X-Semantik-Stale: true`` when it changed since it was indexed. 404 for an
    unknown collection or document, or a file no longer there; 403 for a collection the
    caller may not read, or a file that now leads outside its source."""
    content = await open_content(backend, user, collection_id, document_id)
    # No media_type: Starlette would add "charset=utf-8" to a text file it has not read.
    headers = {"Content-Type": content.media_type, **content.headers()}
    return StreamingResponse(content.pieces, headers=headers)
