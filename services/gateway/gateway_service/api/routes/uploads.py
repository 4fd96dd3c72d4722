"""``POST /api/v2/collections/{id}/sources/upload``: a file uploaded as a source;
``.../sources/uploads``: several, each its own source and operation."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from semantik_contracts import ErrorCode, RpcError, RpcFailure, SourceKind
from semantik_contracts.commands import AddSource
from semantik_contracts.uploads import UploadedFile, UploadedFileError, UploadedFiles
from semantik_contracts.views import SourceAndOperation

from ...backend import Backend
from ...config import GatewaySettings
from ...errors import status_of
from ...principals import Principal
from ...schemas import SourceColumnsUpdate
from ...upload_versions import StoredVersion, name_locked
from ...uploads import (
    ReceivedUpload,
    discard_stored_upload,
    receive_upload,
    receive_uploads,
    store_upload,
)
from ..deps import BackendDep, CurrentUser, SettingsDep
from .column_sets import form_columns
from .roles import needs_editor

router = APIRouter(prefix="/collections/{collection_id}", tags=["sources"])

#: The most files one request to ``.../sources/uploads`` may carry.
MAX_FILES = 50
_COLUMN_FIELDS: dict[str, Any] = {
    "text_columns": {"type": "array", "items": {"type": "string"}},
    "context_columns": {"type": "array", "items": {"type": "string"}},
    "id_column": {"type": "string"},
    "keep_versions": {"type": "boolean", "default": False},
    "column_set": {"type": "string", "description": "a saved column set's name"},
}


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
                            **_COLUMN_FIELDS,
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

    A file uploaded again under a name the collection has is the next version of that
    source (``versions``); with ``keep_versions`` it is a source of its own,
    ``name_v2.ext`` and so on."""
    await _owned(backend, user, collection_id)
    upload = await receive_upload(
        _multipart(request), request.stream(), settings.upload_max_bytes, _spool(settings)
    )
    try:
        form = _form(upload.fields)
        columns = await form_columns(backend, user, collection_id, upload.fields, form.columns)
        form = replace(form, columns=columns)
        return await _add_upload(backend, user, collection_id, upload, form, _spool(settings))
    finally:
        upload.discard()


@router.post(
    "/sources/uploads",
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
                            "file": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                                "maxItems": MAX_FILES,
                            },
                            **_COLUMN_FIELDS,
                        },
                    }
                }
            },
        }
    },
)
async def upload_sources(
    collection_id: UUID,
    request: Request,
    user: CurrentUser,
    backend: BackendDep,
    settings: SettingsDep,
) -> UploadedFiles:
    """Upload 1 to ``MAX_FILES`` files (each a ``file`` part; all together at most
    ``SEMANTIK_UPLOAD_MAX_BYTES``), each its own source and operation (queued behind the
    collection's running one), all with the request's column fields. A file that is
    refused is refused alone: its entry has ``error`` and the others go on."""
    await _owned(backend, user, collection_id)
    uploads = await receive_uploads(
        _multipart(request),
        request.stream(),
        settings.upload_max_bytes,
        _spool(settings),
        max_files=MAX_FILES,
    )
    try:
        form = _form(uploads[0].fields)
        fields = uploads[0].fields
        form = replace(
            form, columns=await form_columns(backend, user, collection_id, fields, form.columns)
        )
        answers = []
        for upload in uploads:
            try:
                added = await _add_upload(
                    backend, user, collection_id, upload, form, _spool(settings)
                )
            except RpcFailure as refused:
                error = UploadedFileError(
                    status=status_of(refused.error),
                    code=refused.error.code.value,
                    detail=refused.error.message,
                )
                answers.append(UploadedFile(filename=upload.filename, error=error))
            else:
                answers.append(
                    UploadedFile(
                        filename=upload.filename, source=added.source, operation=added.operation
                    )
                )
        return UploadedFiles(files=answers)
    finally:
        for upload in uploads:
            upload.discard()


async def _owned(backend: Backend, user: Principal, collection_id: UUID) -> None:
    """Access first: nothing is stored for a collection the user may not add to (a
    viewer's upload is one 403, not a refusal per file)."""
    await needs_editor(backend, user, collection_id)


def _multipart(request: Request) -> str:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        message = "send the file as multipart/form-data (field 'file')"
        raise RpcFailure(RpcError(code=ErrorCode.INVALID, message=message))
    return content_type


def _spool(settings: GatewaySettings) -> Path:
    return settings.data_dir / "spool"


async def _add_upload(
    backend: Backend,
    user: Principal,
    collection_id: UUID,
    upload: ReceivedUpload,
    form: UploadForm,
    spool: Path,
) -> SourceAndOperation:
    """Store one received file and add it as a source (with its operation): the next
    version of the source of that name, or with ``keep_versions`` a source of its own."""
    if form.keep_versions:
        path = await store_upload(backend.bus, collection_id, upload)
        try:
            return await backend.ask(
                _add(user, collection_id, path, upload, form), SourceAndOperation
            )
        except RpcFailure as refused:
            # Refused (a zip bomb, an unsupported type, missing columns, a full queue):
            # the file is no source, so it is not kept. A timeout may still have been added.
            if refused.error.code not in (ErrorCode.TIMEOUT, ErrorCode.UNAVAILABLE):
                await discard_stored_upload(backend.bus, path)
            raise
    async with name_locked(backend.bus, collection_id, upload.filename):
        version = StoredVersion(backend.bus, collection_id, upload)
        await version.store(spool)
        try:
            command = _add(user, collection_id, version.path, upload, form)
            return await backend.ask(command, SourceAndOperation)
        except RpcFailure as refused:
            if refused.error.code not in (ErrorCode.TIMEOUT, ErrorCode.UNAVAILABLE):
                await version.undo()
            raise
        finally:
            version.settle()


def _add(
    user: Principal, collection_id: UUID, path: str, upload: ReceivedUpload, form: UploadForm
) -> AddSource:
    return AddSource(
        **user.acting,
        collection_id=collection_id,
        path=path,
        kind=SourceKind.UPLOAD,
        upload_size=upload.size,
        as_version=not form.keep_versions,
        **form.columns.model_dump(),
    )


@dataclass(frozen=True)
class UploadForm:
    columns: SourceColumnsUpdate
    keep_versions: bool


def _form(form: dict[str, list[str]]) -> UploadForm:
    """The form's fields, checked as a JSON body's are: a 422 naming the field (a form is
    parsed here, not by FastAPI, so its errors must be raised as FastAPI's)."""
    keep = next(iter(form.get("keep_versions", [])), "false").strip().lower()
    if keep not in _BOOLEANS:
        error = {"type": "bool_parsing", "loc": ("body", "keep_versions"), "msg": "not a boolean"}
        raise RequestValidationError([error])
    return UploadForm(_column_fields(form), _BOOLEANS[keep])


_BOOLEANS = {
    "true": True,
    "1": True,
    "yes": True,
    "false": False,
    "0": False,
    "no": False,
    "": False,
}


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
