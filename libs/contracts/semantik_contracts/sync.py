"""Continuous sync of a source (SPEC §12): its settings, what started an operation, and
whether its watcher is running."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

#: The NATS KV bucket of the leases: which ingest replica follows each synced source.
SYNC_LEASES_BUCKET = "SEMANTIK_SYNC_LEASES"
#: The NATS KV bucket of the scan leases: which ingest replica runs each scan (SPEC §14).
SCAN_LEASES_BUCKET = "SEMANTIK_SCAN_LEASES"

#: The longest interval between scheduled re-scans: one week.
MAX_INTERVAL_MINUTES = 10080


class OperationTrigger(StrEnum):
    """What started an operation: a person (or a client), the watcher, or the schedule."""

    USER = "user"
    WATCH = "watch"
    SCHEDULE = "schedule"


class SyncStatus(StrEnum):
    """The state of a source's sync: ``off`` (neither watched nor scheduled), ``active``
    (followed by an ingest replica), ``pending`` (no replica follows it yet) or
    ``stopped`` (its folder is gone or unreadable: ``sync_reason`` says why)."""

    OFF = "off"
    PENDING = "pending"
    ACTIVE = "active"
    STOPPED = "stopped"


class SourceSync(BaseModel):
    """How a source follows its files: watched (file system notifications), re-scanned
    every ``interval_minutes``, both, or neither (the default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    watch: bool = Field(False, description="Index changes as the files change (a path source)")
    interval_minutes: int | None = Field(
        None,
        ge=1,
        le=MAX_INTERVAL_MINUTES,
        description="Re-scan every this many minutes (1..10080); null: no schedule",
    )

    @property
    def enabled(self) -> bool:
        return self.watch or self.interval_minutes is not None
