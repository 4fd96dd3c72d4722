"""The Source aggregate: a path or an upload a collection reads, its column preference
set (seed 002) and its sync (SPEC §12). Pure: no I/O.

It lived in ``domain.py``, which re-exports it, so the topics of events stored before
(``collections_service.domain:Source…``) still resolve.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from semantik_contracts import ErrorCode
from semantik_contracts.sync import SourceSync, SyncStatus
from semantik_runtime.errors import CommandError

_OFF = {"watch": False, "interval_minutes": None}


class Source(Aggregate):
    class SourceAdded(Aggregate.Created):
        """v2 added ``sync``: a source added before is neither watched nor scheduled."""

        class_version = 2
        collection_id: UUID
        kind: str
        path: str
        text_columns: list[str]
        context_columns: list[str]
        id_column: str | None
        sync: dict[str, Any] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["sync"] = dict(_OFF)

    @event(SourceAdded)
    def __init__(
        self,
        id: UUID,
        collection_id: UUID,
        kind: str,
        path: str,
        text_columns: list[str],
        context_columns: list[str],
        id_column: str | None,
        sync: dict[str, Any] | None = None,
    ) -> None:
        self.collection_id = collection_id
        self.kind = kind
        self.path = path
        self.text_columns = text_columns
        self.context_columns = context_columns
        self.id_column = id_column
        self.removed = False
        self.sync: dict[str, Any] = dict(sync or _OFF)
        self.sync_status = SyncStatus.PENDING if self.settings.enabled else SyncStatus.OFF
        self.sync_reason = ""
        self.last_sync_at: datetime | None = None
        #: When the settings last changed: a schedule counts from here until a sync.
        self.sync_since: datetime | None = None
        #: An upload's versions: ``{version, size, uploaded_at}``, oldest first.
        self.versions: list[dict[str, Any]] = []

    @property
    def settings(self) -> SourceSync:
        return SourceSync.model_validate(self.sync)

    @property
    def next_sync_at(self) -> datetime | None:
        minutes = self.settings.interval_minutes
        if minutes is None or self.removed:
            return None
        start = max(t for t in (self.last_sync_at, self.sync_since, self.created_on) if t)
        return start + timedelta(minutes=minutes)

    def change_columns(
        self, text_columns: list[str], context_columns: list[str], id_column: str | None
    ) -> None:
        """A new column preference set (seed 002); the caller re-embeds the source."""
        self._check_live()
        if self.kind == "directory":
            raise CommandError(
                ErrorCode.INVALID, "columns apply to record files, not to a directory source"
            )
        self._columns_changed(
            collection_id=self.collection_id,
            text_columns=text_columns,
            context_columns=context_columns,
            id_column=id_column,
        )

    def change_sync(self, sync: SourceSync) -> None:
        """New sync settings; a stopped watcher is tried again (the folder may be back)."""
        self._check_live()
        if sync.enabled and self.path.startswith("upload://"):
            raise CommandError(
                ErrorCode.INVALID, "an uploaded file has no folder to follow: sync needs a path"
            )
        at = datetime.now(UTC)
        self._sync_changed(collection_id=self.collection_id, sync=sync.model_dump(), at=at)

    def sync_requested(self, trigger: str, operation_id: UUID) -> None:
        self._check_live()
        self._sync_requested(
            collection_id=self.collection_id,
            trigger=trigger,
            operation_id=operation_id,
            at=datetime.now(UTC),
        )

    def report_sync(self, status: SyncStatus, reason: str) -> bool:
        """The watcher's state; False when it is what the source says already."""
        self._check_live()
        if not self.settings.enabled:
            status, reason = SyncStatus.OFF, ""
        if (status, reason) == (self.sync_status, self.sync_reason):
            return False
        self._sync_status_changed(collection_id=self.collection_id, status=status, reason=reason)
        return True

    def add_version(self, size: int) -> int:
        """An upload of this source's file name: its next version (the first at once)."""
        self._check_live()
        version = len(self.versions) + 1
        at = datetime.now(UTC)
        self._version_added(collection_id=self.collection_id, version=version, size=size, at=at)
        return version

    def remove(self) -> None:
        if not self.removed:
            self._removed(collection_id=self.collection_id)

    def _check_live(self) -> None:
        if self.removed:
            raise CommandError(ErrorCode.NOT_FOUND, f"source {self.id} was removed")

    @event("SourceColumnsChanged")
    def _columns_changed(
        self,
        collection_id: UUID,
        text_columns: list[str],
        context_columns: list[str],
        id_column: str | None,
    ) -> None:
        self.text_columns = text_columns
        self.context_columns = context_columns
        self.id_column = id_column

    @event("SourceSyncChanged")
    def _sync_changed(self, collection_id: UUID, sync: dict[str, Any], at: datetime) -> None:
        self.sync = sync
        self.sync_since = at
        self.sync_status = SyncStatus.PENDING if self.settings.enabled else SyncStatus.OFF
        self.sync_reason = ""

    @event("SourceSyncStatusChanged")
    def _sync_status_changed(self, collection_id: UUID, status: str, reason: str) -> None:
        self.sync_status = SyncStatus(status)
        self.sync_reason = reason

    @event("SourceSyncRequested")
    def _sync_requested(
        self, collection_id: UUID, trigger: str, operation_id: UUID, at: datetime
    ) -> None:
        self.last_sync_at = at

    @event("SourceVersionAdded")
    def _version_added(self, collection_id: UUID, version: int, size: int, at: datetime) -> None:
        self.versions = [*self.versions, {"version": version, "size": size, "uploaded_at": at}]

    @event("SourceRemoved")
    def _removed(self, collection_id: UUID) -> None:
        self.removed = True
        self.sync_status = SyncStatus.OFF
