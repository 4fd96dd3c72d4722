"""Settings base: every process reads its environment here, once, in its composition root."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .nats_credentials import NatsCredentials


class ServiceSettings(BaseSettings):
    """What every service needs: the bus, the stores and where to keep local data."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    nats_url: str = Field("nats://127.0.0.1:4222", validation_alias="NATS_URL")
    nats_user: str | None = Field(
        None,
        validation_alias="NATS_USER",
        description="The NATS user this process connects as, its own (semantik_runtime."
        "nats_auth); anonymous if unset, which a server with authorization refuses",
    )
    nats_password: SecretStr | None = Field(
        None,
        validation_alias="NATS_PASSWORD",
        description="Password of NATS_USER (semantik run generates one per service into "
        "<data dir>/secrets; deployments take it from a Secret)",
    )
    database_url: str | None = Field(
        None, validation_alias="DATABASE_URL", description="PostgreSQL; SQLite files if unset"
    )
    qdrant_url: str | None = Field(
        None, validation_alias="QDRANT_URL", description="Qdrant server; Qdrant Edge if unset"
    )
    qdrant_api_key: str | None = Field(None, validation_alias="QDRANT_API_KEY")
    edge_search_threads: int = Field(
        1,
        validation_alias="SEMANTIK_EDGE_SEARCH_THREADS",
        ge=1,
        description="Threads each Qdrant Edge shard searches its segments with",
    )
    data_dir: Path = Field(
        Path(".semantik"), validation_alias=AliasChoices("SEMANTIK_DATA_DIR", "data_dir")
    )
    models_dir: Path | None = Field(
        None,
        validation_alias="SEMANTIK_MODELS_DIR",
        description="Extra sentence-transformers model directories; <data dir>/models if unset",
    )
    health_port: int = Field(
        0, validation_alias="SEMANTIK_HEALTH_PORT", description="0 = no health endpoint"
    )
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    otlp_endpoint: str | None = Field(
        None,
        validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description="OTLP/HTTP collector (http://host:4318): traces are exported there",
    )

    @property
    def nats_credentials(self) -> NatsCredentials | None:
        """The user and password this process connects to NATS with; None: anonymous."""
        if not self.nats_user:
            return None
        password = self.nats_password.get_secret_value() if self.nats_password else ""
        return NatsCredentials(self.nats_user, password)

    @property
    def models_path(self) -> Path:
        """Where model directories are looked for (``SEMANTIK_MODELS_DIR``)."""
        return self.models_dir or self.data_dir / "models"
