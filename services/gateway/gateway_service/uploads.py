"""Uploaded source files: received as a multipart stream onto disk, size-limited, and
kept in the bus's object store under a versioned name that ingest fetches.

The body is parsed while it arrives (never held in memory), and reading stops as
soon as it passes the limit: a 413 without reading the rest. A file uploaded again
under a name the collection already has is stored as ``name_v2.ext``, ``name_v3.ext``:
an upload never overwrites an earlier one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from nats.js.errors import KeyWrongLastSequenceError, ObjectNotFoundError
from python_multipart import create_form_parser
from python_multipart.multipart import Field as FormField
from python_multipart.multipart import File as FormFile
from semantik_contracts import ErrorCode, RpcError, RpcFailure
from semantik_contracts.subjects import UPLOAD_SCHEME
from semantik_runtime.bus import Bus

#: Room for the multipart envelope and the form fields beside the file.
_ENVELOPE_BYTES = 1 << 20
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
_NAME_MAX = 200


def _refuse(code: ErrorCode, message: str) -> RpcFailure:
    return RpcFailure(RpcError(code=code, message=message))


@dataclass
class ReceivedUpload:
    """One uploaded file on disk (removed by ``discard``) and the form's other fields."""

    filename: str
    path: Path
    size: int
    fields: dict[str, list[str]] = field(default_factory=dict)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def safe_name(filename: str) -> str:
    """The base name of a client's file name, without path parts or odd characters."""
    base = os.path.basename(filename.replace("\\", "/")).strip()
    cleaned = _UNSAFE.sub("_", base).strip(" .")
    if len(cleaned) > _NAME_MAX:  # cut the stem: the extension says the file's type
        stem, ext = os.path.splitext(cleaned)
        ext = ext if len(ext) <= 16 else ""
        cleaned = stem[: _NAME_MAX - len(ext)] + ext
    return cleaned or "upload"


async def receive_upload(
    content_type: str, body: AsyncIterator[bytes], limit: int, spool: Path
) -> ReceivedUpload:
    """Parse a ``multipart/form-data`` body with exactly one file field, ``file``."""
    uploads = await receive_uploads(content_type, body, limit, spool, max_files=1)
    return uploads[0]


async def receive_uploads(
    content_type: str, body: AsyncIterator[bytes], limit: int, spool: Path, *, max_files: int
) -> list[ReceivedUpload]:
    """Parse a ``multipart/form-data`` body with 1 to ``max_files`` file fields ``file``,
    their sizes together at most ``limit``; each upload carries the form's other fields."""
    await asyncio.to_thread(spool.mkdir, parents=True, exist_ok=True)
    files: list[FormFile] = []
    fields: dict[str, list[str]] = {}

    def on_field(item: FormField) -> None:
        name = (item.field_name or b"").decode(errors="replace")
        fields.setdefault(name, []).append((item.value or b"").decode(errors="replace"))

    def on_file(item: FormFile) -> None:
        files.append(item)
        if len(files) > max_files:  # stops the parse: no more parts are written to disk
            raise _refuse(ErrorCode.INVALID, _count_message(max_files))

    config = {"UPLOAD_DIR": str(spool), "MAX_MEMORY_FILE_SIZE": 1 << 20, "UPLOAD_DELETE_TMP": False}
    parser = create_form_parser({"Content-Type": content_type.encode()}, on_field, on_file, config)
    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > limit + _ENVELOPE_BYTES:
                raise _too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except RpcFailure:
        _drop(files)
        raise
    except Exception as exc:  # the parser's errors for a malformed body
        _drop(files)
        raise _refuse(ErrorCode.INVALID, f"malformed multipart body: {exc}") from None
    if not files or any((f.field_name or b"") != b"file" for f in files):
        _drop(files)
        raise _refuse(ErrorCode.INVALID, _count_message(max_files))
    if sum(f.size for f in files) > limit:
        _drop(files)
        raise _too_large(limit)
    return [
        ReceivedUpload(
            safe_name((upload.file_name or b"").decode(errors="replace")),
            _on_disk(upload, spool),
            upload.size,
            fields,
        )
        for upload in files
    ]


def _count_message(max_files: int) -> str:
    if max_files == 1:
        return "send exactly one file, in the form field 'file'"
    return f"send 1 to {max_files} files, each in a form field 'file'"


def _too_large(limit: int) -> RpcFailure:
    return _refuse(
        ErrorCode.TOO_LARGE,
        f"the upload is larger than {limit} bytes (SEMANTIK_UPLOAD_MAX_BYTES)",
    )


def _on_disk(upload: FormFile, spool: Path) -> Path:
    """Where the file is: small ones are still in memory and are written out now."""
    if not upload.in_memory and upload.actual_file_name:
        upload.file_object.close()
        return Path(upload.actual_file_name.decode())
    handle, name = tempfile.mkstemp(dir=spool)
    with os.fdopen(handle, "wb") as out:
        upload.file_object.seek(0)
        out.write(upload.file_object.read())
    upload.file_object.close()
    return Path(name)


def _drop(files: list[FormFile]) -> None:
    for upload in files:
        upload.file_object.close()
        if upload.actual_file_name:
            Path(upload.actual_file_name.decode()).unlink(missing_ok=True)


async def store_upload(bus: Bus, collection_id: UUID, upload: ReceivedUpload) -> str:
    """Keep the file under a name this collection has not used; its source path.

    A name is reserved by creating its key in ``SEMANTIK_UPLOAD_NAMES``, which succeeds
    for one caller only, so two uploads of one name at once (on one gateway or two) get
    two versions. An object stored before reservations existed keeps its name too."""
    names, store = await bus.upload_names(), await bus.upload_store()
    stem, ext = os.path.splitext(upload.filename)
    name, version = upload.filename, 1
    while True:
        key = name_key(collection_id, name)
        try:
            await names.create(key, name.encode())
            await store.get_info(f"{collection_id}/{name}")  # an older, unreserved upload
        except KeyWrongLastSequenceError:
            pass  # taken
        except ObjectNotFoundError:
            break  # reserved, and free
        version += 1
        name = f"{stem}_v{version}{ext}"
    with upload.path.open("rb") as data:
        await store.put(f"{collection_id}/{name}", data)
    return f"{UPLOAD_SCHEME}{collection_id}/{name}"


async def discard_stored_upload(bus: Bus, source_path: str) -> None:
    """Remove a stored upload that did not become a source, and free its name: a refused
    upload leaves nothing behind."""
    collection_id, name = source_path.removeprefix(UPLOAD_SCHEME).split("/", 1)
    store, names = await bus.upload_store(), await bus.upload_names()
    with contextlib.suppress(ObjectNotFoundError):
        await store.delete(f"{collection_id}/{name}")
    await names.delete(name_key(UUID(collection_id), name))


def name_key(collection_id: UUID, name: str) -> str:
    return f"{collection_id}.{hashlib.sha256(name.encode()).hexdigest()}"
