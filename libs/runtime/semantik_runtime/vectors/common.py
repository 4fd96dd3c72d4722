"""Checks and conversions that both adapters share, so they behave identically."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from .port import DenseVector, Hit, SearchMode, SparseVector

__all__ = [
    "ScoredPoint",
    "check_generation_name",
    "check_query",
    "directory_prefix",
    "in_order",
    "to_hits",
]

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
    payloads = dict(found)
    return [Hit(id=i, score=0.0, payload=payloads[i]) for i in ids if i in payloads]


def to_hits(found: Iterable[ScoredPoint], mode: SearchMode) -> list[Hit]:
    """Convert an engine's results to hits, dropping sparse hits that scored 0.

    Both engines only return sparse hits that share a term with the query, so a score
    of 0 never appears today; a BM25 that padded its list with non-matching points
    would lower a fused ranking, so the guarantee is kept here explicitly.
    """
    return [
        Hit(id=str(p.id), score=p.score, payload=p.payload or {})
        for p in found
        if mode != "sparse" or p.score > 0
    ]
