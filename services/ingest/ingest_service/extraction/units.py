"""What a scan indexes: units, each one future document: a whole file, or one record.

A file is read and hashed on a worker; a record file is parsed into its records there
too, so the scan's loop only decides and publishes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from .extract import DocumentError, file_type, read_bytes
from .formats import mime_of
from .records import ColumnSelection, Record, RecordFailure, row_records
from .tables import read_columns, read_table


@dataclass(frozen=True, slots=True)
class Unit:
    """One document to be: its path (``<file>#<key>`` for a record), content and payload.

    A whole file carries its bytes (``data``): its text is extracted only when it is
    to be indexed, so an unchanged file is hashed and skipped, never parsed.
    """

    path: str
    file: str
    sha256: str
    size: int
    mime: str
    file_type: str
    text: str = ""
    data: bytes = b""
    payload: dict[str, Any] = field(default_factory=dict)
    #: A record's title (``Record.title``): its later chunks are embedded after it.
    title: str = ""


@dataclass(frozen=True, slots=True)
class RecordFile:
    """A record file's rows: the units, the rows that cannot be records, and notes."""

    path: str
    units: list[Unit]
    failures: list[tuple[str, str]]
    notes: list[str]


def record_path(file: str, key: str) -> str:
    return f"{file}#{key}"


def read_file_unit(path: str, real: str, max_bytes: int) -> Unit:
    """A whole file as a unit: its bytes and their SHA-256 (text extracted later)."""
    data = read_bytes(real, max_bytes)
    if not data:
        raise DocumentError("empty document")
    return Unit(
        path=path,
        file=path,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        mime=mime_of(path),
        file_type=file_type(path),
        data=data,
    )


def read_record_file(
    path: str, real: str, selection: ColumnSelection, max_bytes: int
) -> RecordFile:
    """Parse a record file into units under the source's column preferences."""
    data = read_bytes(real, max_bytes)
    if not data:
        raise DocumentError("empty document")
    table = read_table(path, data)
    kind = file_type(path)
    mime = mime_of(path)
    units: list[Unit] = []
    failures: list[tuple[str, str]] = []
    for record in row_records(table, selection):
        if isinstance(record, RecordFailure):
            failures.append((record_path(path, record.key), record.reason))
        else:
            units.append(_record_unit(path, kind, mime, record))
    return RecordFile(path, units, failures, table.notes)


def check_record_columns(path: str, selection: ColumnSelection, max_bytes: int) -> list[str]:
    """The record file's usable columns; ``DocumentError`` unless it has every column
    the selection names."""
    data = read_bytes(path, max_bytes)
    if not data:
        raise DocumentError("empty document")
    columns = read_columns(path, data)
    selection.check(columns)
    return columns


def _record_unit(file: str, kind: str, mime: str, record: Record) -> Unit:
    payload: dict[str, Any] = {"file": file, "row": record.label}
    if record.record_id is not None:
        payload["record_id"] = record.record_id
    if record.context:
        payload["columns"] = record.context
    return Unit(
        path=record_path(file, record.key),
        file=file,
        sha256=record.sha256,
        size=len(record.text.encode()),
        mime=mime,
        file_type=kind,
        text=record.text,
        payload=payload,
        title=record.title,
    )
