"""Facets of a search (SPEC §6): which payload fields a search may count, and the counts.

A facet key is a payload field every document has (``file_type``, ``source_id``,
``mime``) or a record column, ``columns.<name>``. Keys are checked here, so a name a
user types never becomes an engine's payload path: the search service reads the fixed
top-level fields and looks the column name up in the ``columns`` object itself.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

__all__ = [
    "COLUMNS_PREFIX",
    "DEFAULT_FACET_DEPTH",
    "FACET_FIELDS",
    "MAX_FACETS",
    "MAX_FACET_DEPTH",
    "MAX_FACET_VALUES",
    "MIN_FACET_DEPTH",
    "FacetDepth",
    "FacetKeys",
    "FacetValues",
    "check_column_key",
    "facet_text",
]

#: Payload fields of every document that a search may count.
FACET_FIELDS = ("file_type", "source_id", "mime")
#: A record column's facet key is this prefix and the column's name.
COLUMNS_PREFIX = "columns."
MAX_FACETS = 8
#: Values returned per key, the most frequent first.
MAX_FACET_VALUES = 50
#: Documents of the candidate list the facets count over (``facet_depth``).
DEFAULT_FACET_DEPTH = 200
MIN_FACET_DEPTH = 10
MAX_FACET_DEPTH = 1000

# A column name: 1-64 letters, digits, '_', '-', spaces and dots (no wildcards, no
# brackets, no quotes: nothing a payload path would read as syntax).
_COLUMN_NAME = re.compile(r"[^\W]|[ .-]")
_MAX_COLUMN_NAME = 64


def check_column_key(key: str, what: str) -> bool:
    """True if ``key`` is ``columns.<name>`` with a valid name; False if it does not start
    with ``columns.``; a ValueError naming ``what`` (facet, filter) if the name is bad."""
    if not key.startswith(COLUMNS_PREFIX):
        return False
    name = key[len(COLUMNS_PREFIX) :]
    if not 1 <= len(name) <= _MAX_COLUMN_NAME or not all(_COLUMN_NAME.fullmatch(c) for c in name):
        raise ValueError(
            f"bad column {what} {key[:80]!r}: a column name is 1-{_MAX_COLUMN_NAME} letters, "
            "digits, '_', '-', spaces or dots"
        )
    return True


def _check_key(key: str) -> None:
    if key in FACET_FIELDS or check_column_key(key, "facet"):
        return
    fields = ", ".join(FACET_FIELDS)
    raise ValueError(f"unknown facet {key[:80]!r}: use one of {fields}, or columns.<name>")


def _check_facets(keys: list[str]) -> list[str]:
    for key in keys:
        _check_key(key)
    if len(set(keys)) < len(keys):
        raise ValueError("a facet is asked for more than once")
    return keys


#: The facet keys of a search: at most ``MAX_FACETS``, each known or a column.
FacetKeys = Annotated[
    list[str],
    Field(max_length=MAX_FACETS, description="Payload fields to count over the candidates"),
    AfterValidator(_check_facets),
]
FacetDepth = Annotated[
    int,
    Field(
        ge=MIN_FACET_DEPTH,
        le=MAX_FACET_DEPTH,
        description="Documents at the top of the ranked list that the facets count over",
    ),
]


def facet_text(value: str | int | bool) -> str:
    """A facet value as the response names it: a bool ``"true"``/``"false"``, a number
    its decimal, text as it is. The same string as a filter value matches it again."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


#: Each asked key's values (as ``facet_text``) and how many candidate documents have
#: each, by count (descending) then value; at most MAX_FACET_VALUES a key. A JSON
#: object keeps that order.
FacetValues = dict[str, dict[str, int]]
