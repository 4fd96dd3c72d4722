"""``POST /api/v2/collections/{id}/sources/upload``: a file uploaded as a source."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from semantik_contracts import ErrorCode, RpcError, RpcFailure, SourceKind
from semantik_contracts.commands import AddSource, GetCollection
from semantik_contracts.views import CollectionView, SourceAndOperation

from ...schemas import SourceColumnsUpdate
from ...uploads import discard_stored_upload, receive_upload, store_upload
from ..deps import BackendDep, CurrentUser, SettingsDep

router = APIRouter(prefix="/collections/{collection_id}", tags=["sources"])


@router.post(
    "/sources/upload",
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "text_columns": {"type": "array", "items": {"type": "string"}},
                            "context_columns": {"type": "array", "items": {"type": "string"}},
                            "id_column": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
)
async def upload_source(
    collection_id: UUID,
    request: Request,
    user: CurrentUser,
    backend: BackendDep,
    settings: SettingsDep,
) -> SourceAndOperation:
    """Upload a file (multipart field ``file``, at most ``SEMANTIK_UPLOAD_MAX_BYTES``) as a
    source, with the same column fields as a path source (repeat a field for a list).

    A file uploaded again under the same name is kept as ``name_v2.ext`` and so on."""
    # Ownership first: nothing is stored for a collection that is not the user's.
    await backend.ask(GetCollection(**user.acting, collection_id=collection_id), CollectionView)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        message = "send the file as multipart/form-data (field 'file')"
        raise RpcFailure(RpcError(code=ErrorCode.INVALID, message=message))
    upload = await receive_upload(
        content_type, request.stream(), settings.upload_max_bytes, settings.data_dir / "spool"
    )
    try:
        fields = _column_fields(upload.fields)
        path = await store_upload(backend.bus, collection_id, upload)
    finally:
        upload.discard()
    command = AddSource(
        **user.acting,
        collection_id=collection_id,
        path=path,
        kind=SourceKind.UPLOAD,
        **fields.model_dump(),
    )
    try:
        return await backend.ask(command, SourceAndOperation)
    except RpcFailure as refused:
        # Refused (a zip bomb, an unsupported type, missing columns, a running operation):
        # the file is no source, so it is not kept. A timeout may still have been added.
        if refused.error.code not in (ErrorCode.TIMEOUT, ErrorCode.UNAVAILABLE):
            await discard_stored_upload(backend.bus, path)
        raise


def _listed(values: list[str]) -> list[str]:
    """Form fields as a list: repeated fields, or one comma-separated field."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _column_fields(form: dict[str, list[str]]) -> SourceColumnsUpdate:
    """The form's column fields, checked as a JSON body's are: a 422 naming the field (a
    form is parsed here, not by FastAPI, so its errors must be raised as FastAPI's)."""
    try:
        return SourceColumnsUpdate.model_validate(
            {
                "text_columns": _listed(form.get("text_columns", [])),
                "context_columns": _listed(form.get("context_columns", [])),
                "id_column": next(iter(form.get("id_column", [])), None) or None,
            }
        )
    except ValidationError as invalid:
        errors = invalid.errors(include_url=False, include_input=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
