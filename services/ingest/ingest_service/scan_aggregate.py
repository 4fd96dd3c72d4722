"""A scan, ingest's second aggregate: one operation's pass over its sources. Pure: no I/O.

Its events record what happened to each path (skipped, failed, resubmitted by a
reindex), its progress while it runs, and its statistics at the end; a scan resumed
after a crash records nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import register_topic
from semantik_contracts import SkipReason
from semantik_contracts.events import OperationSource

#: The kind of a source a ``remove_source`` operation removes (it has no path any more).
REMOVED = "removed"
#: The kind of a source its operation does not describe: it fails as unknown.
MISSING = "missing"


@dataclass(frozen=True, slots=True)
class ScanSource:
    """A source as a scan sees it: where it is, and its column preferences for records."""

    source_id: UUID
    kind: str
    path: str
    text_columns: tuple[str, ...] = ()
    context_columns: tuple[str, ...] = ()
    id_column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source_id": str(self.source_id),
            "kind": self.kind,
            "path": self.path,
            "text_columns": list(self.text_columns),
            "context_columns": list(self.context_columns),
            "id_column": self.id_column,
        }

    @classmethod
    def described(cls, source: OperationSource) -> ScanSource:
        """The source as its operation describes it (``OperationRequested.sources``)."""
        return cls(
            source.source_id,
            source.kind.value,
            source.path,
            tuple(source.text_columns),
            tuple(source.context_columns),
            source.id_column,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanSource:
        return cls(
            UUID(str(data["source_id"])),
            str(data["kind"]),
            str(data["path"]),
            tuple(data.get("text_columns") or ()),
            tuple(data.get("context_columns") or ()),
            data.get("id_column"),
        )


class Scan(Aggregate):
    """One operation's scan of its sources; its id is ``scan_id(operation_id)``."""

    @event("ScanStarted")
    def __init__(
        self,
        id: UUID,
        collection_id: UUID,
        operation_id: UUID,
        operation_type: str,
        generation: int,
        model_name: str,
        chunk_size: int,
        chunk_overlap: int,
        sources: list[dict[str, Any]],
    ) -> None:
        self.collection_id = collection_id
        self.operation_id = operation_id
        self.operation_type = operation_type
        self.generation = generation
        self.model_name = model_name
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.sources = [ScanSource.from_dict(s) for s in sources]
        self.handled: set[str] = set()
        self.completed = False

    def skip(
        self, source_id: UUID, path: str, reason: SkipReason, document_id: UUID | None
    ) -> None:
        """Record a skipped path once, however often a resumed scan meets it."""
        if path not in self.handled and not self.completed:
            self._skipped(
                collection_id=self.collection_id,
                operation_id=self.operation_id,
                source_id=source_id,
                path=path,
                reason=reason.value,
                document_id=document_id,
            )

    def fail(self, source_id: UUID | None, path: str, reason: str, kind: str = "file") -> None:
        """Record a failure: of a ``file``, a whole ``source``, or a ``removal``."""
        if path not in self.handled and not self.completed:
            self._failed(
                collection_id=self.collection_id,
                operation_id=self.operation_id,
                source_id=source_id,
                path=path,
                reason=reason,
                kind=kind,
            )

    def progress(self, files_found: int, files_done: int, stats: dict[str, int]) -> None:
        if not self.completed:
            self._progressed(
                collection_id=self.collection_id,
                operation_id=self.operation_id,
                files_found=files_found,
                files_done=files_done,
                stats=stats,
            )

    def resubmit(self, source_id: UUID, path: str, document_id: UUID, chunk_count: int) -> None:
        """Record that a reindex embeds an unchanged document again (into its staging
        generation, with the operation's chunking), once per path."""
        if path not in self.handled and not self.completed:
            self._resubmitted(
                collection_id=self.collection_id,
                operation_id=self.operation_id,
                source_id=source_id,
                path=path,
                document_id=document_id,
                chunk_count=chunk_count,
            )

    @property
    def is_reindex(self) -> bool:
        return self.operation_type == "reindex"

    def complete(self, stats: dict[str, int]) -> None:
        if not self.completed:
            self._completed(
                collection_id=self.collection_id, operation_id=self.operation_id, stats=stats
            )

    @event("DocumentSkipped")
    def _skipped(
        self,
        collection_id: UUID,
        operation_id: UUID,
        source_id: UUID,
        path: str,
        reason: str,
        document_id: UUID | None,
    ) -> None:
        self.handled.add(path)

    @event("DocumentFailed")
    def _failed(
        self,
        collection_id: UUID,
        operation_id: UUID,
        source_id: UUID | None,
        path: str,
        reason: str,
        kind: str,
    ) -> None:
        self.handled.add(path)

    @event("ScanProgressed")
    def _progressed(
        self,
        collection_id: UUID,
        operation_id: UUID,
        files_found: int,
        files_done: int,
        stats: dict[str, int],
    ) -> None:
        pass

    @event("DocumentResubmitted")
    def _resubmitted(
        self,
        collection_id: UUID,
        operation_id: UUID,
        source_id: UUID,
        path: str,
        document_id: UUID,
        chunk_count: int,
    ) -> None:
        self.handled.add(path)

    @event("ScanCompleted")
    def _completed(self, collection_id: UUID, operation_id: UUID, stats: dict[str, int]) -> None:
        self.completed = True


# Scans were defined in ``domain`` before: events stored then name that module.
register_topic("ingest_service.domain:Scan", Scan)
