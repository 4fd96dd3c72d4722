"""``GET /api/v2/collections/{id}/documents/{document_id}``: one document with its
extracted text and chunk boundaries (SPEC §6); see ``document_detail``."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from semantik_contracts.documents import DocumentDetail

from ...document_detail import read_document
from ..deps import BackendDep, CurrentUser

router = APIRouter(prefix="/collections/{collection_id}", tags=["documents"])


@router.get("/documents/{document_id}")
async def get_document(
    collection_id: UUID, document_id: UUID, user: CurrentUser, backend: BackendDep
) -> DocumentDetail:
    """Metadata, the text and where each chunk lies in it (``start``/``end`` are
    character offsets into ``text``); a record's columns under ``metadata``. 404 for an
    unknown collection or document, 403 for a collection the caller may not read."""
    return await read_document(backend, user, collection_id, document_id)
