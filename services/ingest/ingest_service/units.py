"""What a scan indexes: units, each one future document: a whole file, or one record.

A file is read and hashed on a worker; a record file is parsed into its records there
too, so the scan's loop only decides and publishes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .domain import ScanSource
from .extract import MIME_TYPES, DocumentError, Extracted, file_type, read_bytes
from .records import ColumnSelection, Record, RecordFailure, row_records
from .tables import RECORD_TYPES, read_table

#: Every extension a scan reads, with its MIME type.
SUPPORTED_TYPES = {**MIME_TYPES, **RECORD_TYPES}


def is_supported(path: str) -> bool:
    return f".{file_type(path)}" in SUPPORTED_TYPES


@dataclass(frozen=True, slots=True)
class Unit:
    """One document to be: its path (``<file>#<key>`` for a record), content and payload."""

    path: str
    file: str
    sha256: str
    size: int
    mime: str
    file_type: str
    text: str
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecordFile:
    """A record file's rows: the units, the rows that cannot be records, and notes."""

    path: str
    units: list[Unit]
    failures: list[tuple[str, str]]
    notes: list[str]


def selection_of(source: ScanSource) -> ColumnSelection:
    return ColumnSelection(source.text_columns, source.context_columns, source.id_column)


def record_path(file: str, key: str) -> str:
    return f"{file}#{key}"


def document_unit(path: str, extracted: Extracted) -> Unit:
    return Unit(
        path=path,
        file=path,
        sha256=extracted.sha256,
        size=extracted.size,
        mime=extracted.mime,
        file_type=extracted.file_type,
        text=extracted.text,
    )


def read_record_file(path: str, real: str, source: ScanSource, max_bytes: int) -> RecordFile:
    """Parse a record file into units under the source's column preferences."""
    data = read_bytes(real, max_bytes)
    if not data:
        raise DocumentError("empty document")
    table = read_table(path, data)
    kind = file_type(path)
    mime = RECORD_TYPES.get(f".{kind}", "application/octet-stream")
    units: list[Unit] = []
    failures: list[tuple[str, str]] = []
    for record in row_records(table, selection_of(source)):
        if isinstance(record, RecordFailure):
            failures.append((record_path(path, record.key), record.reason))
        else:
            units.append(_record_unit(path, kind, mime, record))
    return RecordFile(path, units, failures, table.notes)


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
    )
