"""Values the aggregates hold or hand out. Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """What a vector generation was (or is being) built with."""

    model_name: str
    model_dimension: int
    chunk_size: int
    chunk_overlap: int


@dataclass(frozen=True, slots=True)
class CountDelta:
    """How an operation changed a collection's documents, chunks and bytes."""

    documents: int = 0
    chunks: int = 0
    size_bytes: int = 0
