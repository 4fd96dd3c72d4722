"""Settings of the search service."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from semantik_runtime.settings import ServiceSettings


class SearchSettings(ServiceSettings):
    reranker_path: Path | None = Field(
        None,
        validation_alias="SEMANTIK_RERANKER_PATH",
        description="Directory of a sentence-transformers CrossEncoder; rerank: true needs one",
    )
    reranker_device: str = Field("cpu", validation_alias="SEMANTIK_RERANKER_DEVICE")
