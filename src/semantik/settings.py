"""Settings of ``semantik run`` (SPEC §9), by environment variable or flag."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RunSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    host: str = Field("127.0.0.1", validation_alias="SEMANTIK_HOST")
    port: int = Field(8080, validation_alias="SEMANTIK_PORT")
    data_dir: Path = Field(Path(".semantik"), validation_alias="SEMANTIK_DATA_DIR")
    source_roots: str | None = Field(None, validation_alias="SEMANTIK_SOURCE_ROOTS")
    nats_url: str | None = Field(None, validation_alias="NATS_URL")
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    qdrant_url: str | None = Field(None, validation_alias="QDRANT_URL")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
