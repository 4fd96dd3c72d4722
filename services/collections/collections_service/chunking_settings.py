"""How a collection's text is cut (SPEC §4), and what a reindex may change of it. Pure."""

from __future__ import annotations

from typing import Any

from semantik_contracts import ErrorCode
from semantik_contracts.search import ModelInfo
from semantik_runtime.errors import CommandError


def reindex_params(params: dict[str, Any]) -> tuple[str | None, int | None, int | None]:
    """``model_name``, ``chunk_size``, ``chunk_overlap`` of a reindex, each optional."""
    name, size, overlap = (params.get(k) for k in ("model_name", "chunk_size", "chunk_overlap"))
    if name is not None and not isinstance(name, str):
        raise CommandError(ErrorCode.INVALID, "model_name must be a string")
    for key, value in (("chunk_size", size), ("chunk_overlap", overlap)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise CommandError(ErrorCode.INVALID, f"{key} must be a non-negative integer")
    return name, size, overlap


def chunking(model: ModelInfo, size: int | None, overlap: int | None) -> tuple[int, int]:
    """Chunk size and overlap, defaulting to the model's length and ~10 % (SPEC §4)."""
    chunk_size = size or model.max_seq_length
    chunk_overlap = overlap if overlap is not None else chunk_size // 10
    if chunk_overlap >= chunk_size:
        raise CommandError(ErrorCode.INVALID, "chunk_overlap must be smaller than chunk_size")
    return chunk_size, chunk_overlap
