"""Settings of the collections service."""

from __future__ import annotations

from pydantic import Field
from semantik_runtime.settings import ServiceSettings


class CollectionsSettings(ServiceSettings):
    max_collections_per_user: int = Field(10, validation_alias="MAX_COLLECTIONS_PER_USER", ge=1)
    collection_size_limit_gb: float = Field(
        100.0, validation_alias="COLLECTION_SIZE_LIMIT_GB", gt=0
    )
    operation_timeout_seconds: float = Field(
        6 * 3600, validation_alias="OPERATION_TIMEOUT_SECONDS", gt=0
    )
    progress_interval_seconds: float = Field(1.0, validation_alias="PROGRESS_INTERVAL_SECONDS")
    operation_stall_seconds: float = Field(
        60.0,
        validation_alias="SEMANTIK_OPERATION_STALL_SECONDS",
        gt=0,
        description="A running operation with no progress for this long has its lost work "
        "published again (the watchdog asks ingest to resume it)",
    )
    embedder_wait_seconds: float = Field(
        60.0,
        validation_alias="SEMANTIK_EMBEDDER_WAIT_SECONDS",
        ge=0,
        description="A stalled operation whose model no embedder serves (no consumer of "
        "its work queue) fails after this long, with a message naming the model",
    )
    max_queued_operations: int = Field(
        20,
        validation_alias="SEMANTIK_MAX_QUEUED_OPERATIONS",
        ge=0,
        description="Operations that may wait in one collection's queue behind the running "
        "one; past it a new operation is a 409",
    )
    reindex_grace_seconds: float = Field(
        300.0,
        validation_alias="SEMANTIK_REINDEX_GRACE_SECONDS",
        ge=0,
        description="How long a reindex keeps the replaced generation before dropping it",
    )
    reindex_min_overlap: float = Field(
        0.5,
        validation_alias="SEMANTIK_REINDEX_MIN_OVERLAP",
        ge=0,
        le=1,
        description="Share of documents sampled queries must find in both generations",
    )
