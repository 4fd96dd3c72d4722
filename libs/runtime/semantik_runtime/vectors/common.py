"""Checks and conversions that both adapters share, so they behave identically."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from .port import DenseVector, Hit, SearchMode, SparseVector

__all__ = [
    "BOOL_COLUMNS",
    "ScoredPoint",
    "check_generation_name",
    "check_query",
    "column_name",
    "directory_prefix",
    "field_path",
    "filter_values",
    "in_order",
    "split_values",
    "stored_payload",
    "to_hits",
]

#: The payload object of a record's columns, and a filter key's prefix for one column.
COLUMNS = "columns"
_COLUMN_KEY = COLUMNS + "."
#: Qdrant Edge (qdrant-edge-py 0.9) has no match of a bool: ``MatchValue(True)`` is
#: the integer 1, which a stored ``true`` does not equal. So the Edge adapter also
#: stores each bool column as 0/1 under this object, and matches a bool there; it is
#: left out of every payload it returns.
BOOL_COLUMNS = "_bool_columns"

Scalar = str | int | bool
_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,17})")

# Generation names become directory names (Edge) and collection names (server), so they
# are restricted to characters that are safe, and mean the same thing, in both.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")


def check_generation_name(name: str) -> str:
    """Return ``name`` if it is a valid generation name, else raise ``ValueError``."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"invalid generation name {name!r}: use letters, digits, '_' and '-'")
    return name


def check_query(
    mode: SearchMode, dense: DenseVector | None, sparse: SparseVector | None, limit: int
) -> None:
    """Raise ``ValueError`` unless the vectors that ``mode`` needs are given."""
    if mode not in ("dense", "sparse", "hybrid"):
        raise ValueError(f"unknown search mode {mode!r}")
    if mode in ("dense", "hybrid") and dense is None:
        raise ValueError(f"{mode} search needs a dense query vector")
    if mode in ("sparse", "hybrid") and sparse is None:
        raise ValueError(f"{mode} search needs a sparse query vector")
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")


def column_name(key: str) -> str | None:
    """The column a ``columns.<name>`` filter key names; None for another key."""
    return key[len(_COLUMN_KEY) :] if key.startswith(_COLUMN_KEY) else None


def field_path(key: str, parent: str = COLUMNS) -> str:
    """The engine's payload path of filter ``key``: a column's name is quoted, so a dot
    or a space in it is part of the name, never a nested path (the search contract
    allows no quote in a name). Other keys are top-level fields as they are."""
    name = column_name(key)
    return key if name is None else f'{parent}."{name}"'


def filter_values(key: str, value: object) -> list[Scalar]:
    """The values a filter of ``key`` matches: ``value``, or each of a list; and for a
    column, the number and the bool a text value spells (``"2021"`` also matches 2021,
    ``"true"`` also true), since a facet names every value as text."""
    values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
    found: list[Scalar] = []
    for item in values:
        if not isinstance(item, str | int | bool):
            raise ValueError(f"a filter value is text, a number or a bool, got {item!r}")
        found.append(item)
        if column_name(key) is not None and isinstance(item, str):
            if _INTEGER.fullmatch(item):
                found.append(int(item))
            elif item in ("true", "false"):
                found.append(item == "true")
    return found


def split_values(values: Sequence[Scalar]) -> tuple[list[str], list[int], list[bool]]:
    """``values`` as texts, integers and bools (a bool is no integer here)."""
    texts = [v for v in values if isinstance(v, str)]
    numbers = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    bools = [v for v in values if isinstance(v, bool)]
    return texts, numbers, bools


def stored_payload(payload: dict[str, Any] | None) -> dict[str, Any]:
    """A payload as written, without the Edge adapter's ``BOOL_COLUMNS``."""
    found = dict(payload or {})
    found.pop(BOOL_COLUMNS, None)
    return found


def directory_prefix(directory: object) -> str:
    """The path prefix of everything under ``directory``: "/data/a" must not match "/data/ab"."""
    if not isinstance(directory, str) or not directory.strip("/"):
        raise ValueError(f"a path prefix is a directory path, got {directory!r}")
    return directory.rstrip("/") + "/"


class ScoredPoint(Protocol):
    """What both engines return for a hit (Edge gives UUID ids, qdrant-client strings)."""

    @property
    def id(self) -> object: ...
    @property
    def score(self) -> float: ...
    @property
    def payload(self) -> dict[str, Any] | None: ...


def in_order(ids: Sequence[str], found: Iterable[tuple[str, dict[str, Any]]]) -> list[Hit]:
    """Hits (score 0) of the retrieved ``(id, payload)`` pairs, in the order of ``ids``."""
    payloads = {i: stored_payload(p) for i, p in found}
    return [Hit(id=i, score=0.0, payload=payloads[i]) for i in ids if i in payloads]


def to_hits(found: Iterable[ScoredPoint], mode: SearchMode) -> list[Hit]:
    """Convert an engine's results to hits, dropping sparse hits that scored 0.

    Both engines only return sparse hits that share a term with the query, so a score
    of 0 never appears today; a BM25 that padded its list with non-matching points
    would lower a fused ranking, so the guarantee is kept here explicitly.
    """
    return [
        Hit.of(p, p.score, stored_payload(p.payload))
        for p in found
        if mode != "sparse" or p.score > 0
    ]
