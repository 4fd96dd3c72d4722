"""Settings base: every process reads its environment here, once, in its composition root."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import AliasChoices, ByteSize, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .nats_credentials import NatsCredentials

if TYPE_CHECKING:
    from .vectors.server import QdrantLayout

#: The shortest age limit SEMANTIK_EVENTS may be given: an operation runs for at most its
#: timeout (6 h by default) and its stall watchdog re-publishes its events from the
#: stream's view of them, and a subscriber down over a night must still catch up.
MIN_EVENTS_MAX_AGE_DAYS = 1.0
#: The smallest size limit: one large index publishes tens of thousands of events (about
#: a kilobyte each), which must still be there when its consumers read them.
MIN_EVENTS_MAX_BYTES = 64 * 1024 * 1024


class EventRetentionSettings(BaseSettings):
    """How long SEMANTIK_EVENTS keeps events (SPEC §14). The event stores stay the truth:
    read models and ``semantik projections rebuild`` fold the stores, never the stream.

    Every process that ensures the streams applies these limits at start, so each one
    reads them, from the same environment: a process that declared other limits (or
    none) would undo them at its own start."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    events_max_age_days: float = Field(
        0.0,
        validation_alias="SEMANTIK_EVENTS_MAX_AGE_DAYS",
        description="Days SEMANTIK_EVENTS keeps an event (0: no age limit). Deployments "
        "set 30 (compose.yaml, deploy/k8s): a month covers a subscriber or webhook "
        "receiver away for weeks and every operation's life many times over. The "
        "embedded default keeps everything: its vector host learns at each start which "
        "models to serve from every GenerationCreated in the stream (semantik.modelhost)",
    )
    events_max_bytes: ByteSize = Field(
        ByteSize(0),
        validation_alias="SEMANTIK_EVENTS_MAX_BYTES",
        description="Bytes SEMANTIK_EVENTS may hold, e.g. 20GiB (0: no size limit): the "
        "oldest events go first. A guard for the disk; the age limit is the policy",
    )

    @field_validator("events_max_age_days")
    @classmethod
    def _a_usable_age(cls, days: float) -> float:
        if days != 0 and not MIN_EVENTS_MAX_AGE_DAYS <= days <= 36500:
            raise ValueError(
                f"SEMANTIK_EVENTS_MAX_AGE_DAYS must be 0 (no limit) or between "
                f"{MIN_EVENTS_MAX_AGE_DAYS:g} and 36500 days, not {days:g}"
            )
        return days

    @field_validator("events_max_bytes")
    @classmethod
    def _a_usable_size(cls, size: ByteSize) -> ByteSize:
        if size != 0 and size < MIN_EVENTS_MAX_BYTES:
            raise ValueError(
                "SEMANTIK_EVENTS_MAX_BYTES must be 0 (no limit) or at least 64MiB, "
                f"not {size} bytes"
            )
        return size

    @property
    def events_max_age_seconds(self) -> float:
        return self.events_max_age_days * 86400


class StreamSettings(BaseSettings):
    """How many NATS servers hold a copy of each stream, KV bucket and object store
    (SPEC §14). The bus reads it where it creates them (``Bus``), so every process
    declares the same number: one that declared fewer would scale the streams down at
    its start."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    stream_replicas: int = Field(
        1,
        validation_alias="SEMANTIK_STREAM_REPLICAS",
        ge=1,
        le=5,
        description="Copies of SEMANTIK_EVENTS, SEMANTIK_WORK, the KV buckets and the "
        "uploads' object store, each on its own server of a JetStream cluster: 3 on a "
        "three-node cluster (compose.yaml, deploy/k8s) survives the loss of any one node. "
        "A cluster needs at least this many servers for a stream to be created",
    )


def nats_servers(url: str) -> list[str]:
    """The servers of ``NATS_URL``: one URL, or several separated by commas (the nodes
    of a cluster, tried in turn when the one in use is lost)."""
    servers = [server.strip() for server in url.split(",") if server.strip()]
    if not servers:
        raise ValueError("NATS_URL names no server")
    return servers


class ServiceSettings(EventRetentionSettings, StreamSettings):
    """What every service needs: the bus, the stores and where to keep local data (and
    the events' retention and the streams' replicas, so that a bad value stops every
    service at start)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    nats_url: str = Field(
        "nats://127.0.0.1:4222",
        validation_alias="NATS_URL",
        description="The NATS server, or the servers of a cluster separated by commas "
        "(nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222): a client that loses "
        "its server reconnects to another",
    )

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
    qdrant_shards: int | None = Field(
        None,
        validation_alias="SEMANTIK_QDRANT_SHARDS",
        ge=1,
        le=1024,
        description="Shards of each new generation on the Qdrant server (QDRANT_URL); "
        "the server's default (1) if unset",
    )
    qdrant_replicas: int | None = Field(
        None,
        validation_alias="SEMANTIK_QDRANT_REPLICAS",
        ge=1,
        le=16,
        description="Copies of each shard of a new generation on a Qdrant cluster; the "
        "server's default if unset",
    )
    qdrant_quantization: Literal["none", "int8"] = Field(
        "none",
        validation_alias="SEMANTIK_QDRANT_QUANTIZATION",
        description="int8: new generations keep an int8 copy of the vectors in RAM and "
        "the float32 originals (which rescore) and the sparse index on disk",
    )
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

    @field_validator("nats_url")
    @classmethod
    def _some_server(cls, url: str) -> str:
        nats_servers(url)
        return url

    @property
    def nats_credentials(self) -> NatsCredentials | None:
        """The user and password this process connects to NATS with; None: anonymous."""
        if not self.nats_user:
            return None
        password = self.nats_password.get_secret_value() if self.nats_password else ""
        return NatsCredentials(self.nats_user, password)

    @property
    def qdrant_layout(self) -> QdrantLayout:
        """How new generations are laid out on the Qdrant server (``QDRANT_URL``)."""
        from .vectors.server import QdrantLayout  # qdrant-client: only where it is used

        return QdrantLayout(self.qdrant_shards, self.qdrant_replicas, self.qdrant_quantization)

    @property
    def models_path(self) -> Path:
        """Where model directories are looked for (``SEMANTIK_MODELS_DIR``)."""
        return self.models_dir or self.data_dir / "models"
