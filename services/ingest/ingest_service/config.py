"""Settings of the ingest service (read once, in the composition root)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from semantik_runtime.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    source_roots_value: str = Field(
        "",
        validation_alias="SEMANTIK_SOURCE_ROOTS",
        description="Colon-separated directories path sources may come from; "
        "<data dir>/sources if unset. Semantik's own data and hidden files never are",
    )
    max_file_bytes: int = Field(50 * 1024 * 1024, validation_alias="SEMANTIK_MAX_FILE_BYTES", gt=0)
    embed_max_pending: int = Field(
        2000,
        validation_alias="SEMANTIK_EMBED_MAX_PENDING",
        gt=0,
        description="Chunks published for embedding and not yet taken by an embedder",
    )
    sync_lease_seconds: float = Field(
        10.0,
        validation_alias="SEMANTIK_SYNC_LEASE_SECONDS",
        ge=1.0,
        le=300.0,
        description="How long a replica's lease on a synced source lasts unrenewed",
    )
    scan_lease_seconds: float = Field(
        30.0,
        validation_alias="SEMANTIK_SCAN_LEASE_SECONDS",
        ge=1.0,
        le=600.0,
        description="How long a replica's lease on a running scan lasts unrenewed: "
        "another replica resumes the scan of one that died within 1.5 times this",
    )
    replica_name: str | None = Field(
        None,
        validation_alias="SEMANTIK_REPLICA_NAME",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$",
        description="This replica's name across restarts (the pod's name on Kubernetes; "
        "`semantik run` sets it): a restarted replica takes its own scan and sync leases "
        "back at once. Two replicas running at the same time must never share it. Unset: "
        "a name of the process, and a restarted one waits for its old leases to lapse",
    )
    sync_refresh_seconds: float = Field(
        2.0,
        validation_alias="SEMANTIK_SYNC_REFRESH_SECONDS",
        gt=0,
        le=60.0,
        description="How often the synced sources are listed and the leases renewed",
    )
    scan_workers: int = Field(
        2, validation_alias="SEMANTIK_SCAN_WORKERS", ge=1, description="File reading threads"
    )
    extract_workers: int = Field(
        default_factory=lambda: min(4, os.cpu_count() or 1),
        validation_alias="SEMANTIK_EXTRACT_WORKERS",
        ge=1,
        description="Extraction processes (parsing, chunking)",
    )
    extract_timeout_seconds: float = Field(
        300.0,
        validation_alias="SEMANTIK_EXTRACT_TIMEOUT_SECONDS",
        gt=0,
        description="How long reading one file (or one part of a table) may take",
    )
    extract_niceness: int = Field(
        10,
        validation_alias="SEMANTIK_EXTRACT_NICENESS",
        ge=0,
        le=19,
        description="How much lower the extraction processes' CPU priority is",
    )

    @property
    def source_roots(self) -> list[Path]:
        """The allowed roots; by default the data dir's ``sources/`` alone. Anything else
        (the home directory included) is opened only by naming it here (SPEC §11)."""
        value = self.source_roots_value.strip()
        if value:
            return [Path(part.strip()).expanduser() for part in value.split(":") if part.strip()]
        return [self.data_dir / "sources"]

    @property
    def own_data(self) -> list[Path]:
        """What Semantik writes outside the data dir too, never a source: the models."""
        return [self.models_path]
