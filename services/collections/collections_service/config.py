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
