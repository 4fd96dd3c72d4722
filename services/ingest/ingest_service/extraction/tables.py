"""Reading record files (csv, tsv, jsonl, json, parquet, xlsx, xls) into tables.

A table is its usable columns and its rows, each row a mapping of column to value.
Header-tolerant: a column without a header, or with a header that repeats an earlier
one, is skipped (and said so in ``notes``) instead of failing the file.

Libraries: ``pyarrow`` reads Parquet (the reference implementation, by the Arrow
project), ``python-calamine`` reads xlsx and xls alike (Rust's calamine: fast, and one
reader for both Excel formats), the standard library reads csv and json.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .extract import DocumentError, decode

#: Extension → MIME type of the record formats.
RECORD_TYPES = {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
    ".json": "application/json",
    ".parquet": "application/vnd.apache.parquet",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xls": "application/vnd.ms-excel",
}
#: More columns than this is not a table a person chose columns of.
MAX_COLUMNS = 1000
#: An Office file (a zip) may expand to at most this many times its size, and this much.
MAX_EXPANSION_RATIO = 100
MAX_EXPANDED_BYTES = 512 * 1024 * 1024

#: A row: its label as the user finds it in the file ("row 5", "line 12"), and its values.
Row = tuple[str, dict[str, Any]]
#: How much of a large csv is read to learn its columns.
_HEAD_BYTES = 1 << 20


@dataclass(slots=True)
class Table:
    columns: list[str]
    rows: Sequence[Row]
    notes: list[str] = field(default_factory=list)


def is_record_file(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in RECORD_TYPES


def read_table(path: str, data: bytes) -> Table:
    """The table in ``data`` (the bytes of ``path``); ``DocumentError`` when unreadable."""
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext in (".csv", ".tsv"):
            return _csv(data, "\t" if ext == ".tsv" else None)
        if ext in (".jsonl", ".ndjson"):
            return _objects(_json_lines(data))
        if ext == ".json":
            return _objects(_json_document(data))
        if ext == ".parquet":
            return _parquet(data)
        if ext in (".xlsx", ".xls"):
            return _workbook(data, ext)
    except DocumentError:
        raise
    except Exception as exc:  # every library has its own errors for a corrupt file
        raise DocumentError(f"cannot read the {ext.lstrip('.')} file: {_brief(exc)}") from None
    raise DocumentError(f"unsupported record format {ext}")


def read_columns(path: str, data: bytes) -> list[str]:
    """The usable columns of a record file; for csv and tsv from its first lines only,
    so checking a large table's columns when a source is added takes no time."""
    ext = os.path.splitext(path)[1].lower()
    if ext in (".csv", ".tsv") and len(data) > _HEAD_BYTES:
        cut = data.rfind(b"\n", 0, _HEAD_BYTES)
        data = data[: cut + 1] if cut > 0 else data
    return read_table(path, data).columns


def usable_columns(headers: Sequence[Any]) -> tuple[list[tuple[int, str]], list[str]]:
    """(position, name) of each column with a header not seen before, and what was skipped."""
    kept: list[tuple[int, str]] = []
    seen: set[str] = set()
    notes: list[str] = []
    for position, header in enumerate(headers, start=1):
        name = "" if header is None else str(header).strip()
        if not name:
            notes.append(f"column {position} has no header and was skipped")
        elif name in seen:
            notes.append(f"column {position} repeats the header {name!r} and was skipped")
        else:
            seen.add(name)
            kept.append((position - 1, name))
    if len(kept) > MAX_COLUMNS:
        raise DocumentError(f"too many columns ({len(kept)}; the limit is {MAX_COLUMNS})")
    return kept, notes


def _grid(rows: Iterator[Sequence[Any]], prefix: str = "") -> Table:
    """A table from rows of cells whose first row (row 1) is the header."""
    header = next(rows, None)
    if header is None:
        raise DocumentError("empty table (no header row)")
    kept, notes = usable_columns(header)
    table: list[Row] = []
    for number, cells in enumerate(rows, start=2):
        width = len(cells)
        values = {name: cells[i] if i < width else None for i, name in kept}
        table.append((f"{prefix}row {number}", values))
    return Table([name for _, name in kept], table, notes)


def _csv(data: bytes, delimiter: str | None) -> Table:
    text, _ = decode(data)
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    csv.field_size_limit(max(len(text), 131072))
    return _grid(csv.reader(io.StringIO(text), delimiter=delimiter, strict=False))


def _json_lines(data: bytes) -> list[tuple[str, Any]]:
    text, _ = decode(data)
    found = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            try:
                found.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise DocumentError(f"line {number} is not valid JSON: {exc.msg}") from None
    return found


def _json_document(data: bytes) -> list[tuple[str, Any]]:
    text, _ = decode(data)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    items = value if isinstance(value, list) else [value]
    return [(f"item {n}", item) for n, item in enumerate(items, start=1)]


def _objects(items: list[tuple[str, Any]]) -> Table:
    """A table from JSON values: objects give their keys as columns, others ``value``."""
    rows: list[Row] = []
    columns: dict[str, None] = {}
    for label, item in items:
        record = item if isinstance(item, dict) else {"value": item}
        record = {str(k).strip(): v for k, v in record.items() if str(k).strip()}
        columns.update(dict.fromkeys(record))
        if len(columns) > MAX_COLUMNS:
            raise DocumentError(f"too many columns (over {MAX_COLUMNS})")
        rows.append((label, record))
    if not rows:
        raise DocumentError("no records in the file")
    return Table(list(columns), rows)


def _parquet(data: bytes) -> Table:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(io.BytesIO(data))
    kept, notes = usable_columns(parquet.schema_arrow.names)
    rows: list[Row] = []
    number = 0
    for batch in parquet.iter_batches(batch_size=4096):
        columns = [batch.column(i).to_pylist() for i, _ in kept]
        for values in zip(*columns, strict=True):
            number += 1
            record = {name: values[j] for j, (_, name) in enumerate(kept)}
            rows.append((f"row {number}", record))
    return Table([name for _, name in kept], rows, notes)


def _workbook(data: bytes, ext: str) -> Table:
    from python_calamine import CalamineWorkbook

    if ext == ".xlsx":
        check_archive(data)
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    sheets = []
    for name in book.sheet_names:
        cells = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
        if any(any(c not in (None, "") for c in row) for row in cells):
            sheets.append((name, cells))
    if not sheets:
        raise DocumentError("the workbook has no data")
    if len(sheets) == 1:
        return _grid(iter(sheets[0][1]))
    # Several sheets: one table; each row's label names its sheet.
    columns: dict[str, None] = {}
    rows: list[Row] = []
    notes: list[str] = []
    for name, cells in sheets:
        table = _grid(iter(cells), prefix=f"{name} ")
        columns.update(dict.fromkeys(table.columns))
        notes.extend(f"{name}: {note}" for note in table.notes)
        rows.extend(table.rows)
    return Table(list(columns), rows, notes)


def check_archive(data: bytes) -> None:
    """Refuse an Office file (a zip) that would expand far beyond its size: a zip bomb."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise DocumentError("corrupt file (not a valid Office zip archive)") from None
    if expanded > MAX_EXPANDED_BYTES or expanded > MAX_EXPANSION_RATIO * max(len(data), 1):
        raise DocumentError(
            f"refused: the file expands to {expanded} bytes from {len(data)} (a zip bomb?)"
        )


def _brief(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]
