"""One document per row: a table's rows as records under a source's column preferences.

A record's key is its id (the ``id_column``'s value) or, without an id column, its
position ("row 5"); its document path is ``<file>#<key>``, so a changed row replaces
the record at the same key. Its SHA-256 covers exactly what is indexed (the embedded
text, the record id and the context values): a row whose indexed content is unchanged
is skipped on a re-scan, two rows with equal content are duplicates, and changing the
column preferences changes every hash, so the rows are embedded again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .extract import DocumentError
from .tables import Table


@dataclass(frozen=True, slots=True)
class ColumnSelection:
    """A source's column preference set."""

    text_columns: tuple[str, ...] = ()
    context_columns: tuple[str, ...] = ()
    id_column: str | None = None

    def check(self, columns: list[str]) -> None:
        """Every named column must be one of ``columns`` (a table's)."""
        named = [*self.text_columns, *self.context_columns]
        if self.id_column:
            named.append(self.id_column)
        missing = [name for name in dict.fromkeys(named) if name not in columns]
        if missing:
            quoted = ", ".join(repr(name) for name in missing)
            raise DocumentError(f"column {quoted} not found; the columns are: {', '.join(columns)}")


@dataclass(frozen=True, slots=True)
class Record:
    key: str
    label: str
    text: str
    sha256: str
    record_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    #: The first of two or more chosen text columns, when it has text: the record's
    #: title, which its first chunk begins with and its later chunks are embedded after.
    title: str = ""


@dataclass(frozen=True, slots=True)
class RecordFailure:
    key: str
    reason: str


def cell_text(value: Any) -> str:
    """A cell as text: whole floats without ``.0``, dates in ISO form, nested as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value).strip()


def payload_value(value: Any) -> Any:
    """A context value as stored in the payload: scalars stay typed, so filters match."""
    if isinstance(value, bool | int | str):
        return value.strip() if isinstance(value, str) else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = cell_text(value)
    return text if text else None


def row_records(table: Table, selection: ColumnSelection) -> Iterator[Record | RecordFailure]:
    """Each row of ``table`` as a record, or as the reason it cannot be one."""
    selection.check(table.columns)
    context_columns = selection.context_columns
    text_columns: Sequence[str] = selection.text_columns
    labelled = not text_columns  # without a choice every other column is embedded, named
    if labelled:
        skip = {*context_columns, selection.id_column}
        text_columns = [c for c in table.columns if c not in skip]
    keys: dict[str, str] = {}
    for label, values in table.rows:
        if all(cell_text(v) == "" for v in values.values()):
            continue  # a blank row (spreadsheets are full of them)
        record_id = None
        key = label
        if selection.id_column:
            record_id = cell_text(values.get(selection.id_column))
            if not record_id:
                yield RecordFailure(label, f"{label}: the id column is empty")
                continue
            key = record_id
            if key in keys:
                yield RecordFailure(label, f"{label}: the id {key!r} repeats {keys[key]}")
                continue
            keys[key] = label
        found = [(c, t) for c in text_columns if (t := cell_text(values.get(c)))]
        parts = [f"{c}: {t}" if labelled else t for c, t in found]
        titled = not labelled and len(found) > 1 and found[0][0] == text_columns[0]
        if not parts:
            columns = ", ".join(text_columns) or "(none)"
            yield RecordFailure(key, f"{label}: no text in the columns {columns}")
            continue
        text = "\n".join(parts) if labelled else "\n\n".join(parts)
        context = {c: v for c in context_columns if (v := payload_value(values.get(c))) is not None}
        identity = {"text": text, "id": record_id, "context": context}
        digest = hashlib.sha256(
            json.dumps(identity, sort_keys=True, ensure_ascii=False, default=str).encode()
        ).hexdigest()
        yield Record(key, label, text, digest, record_id, context, found[0][1] if titled else "")
