"""The document registry: ingest's log folded into what a scan needs to decide.

Per collection: path → current document (id, sha256, chunk count, source); each
document's state; the scans not yet completed (resumed at start-up); and per operation
the tallies that become ``ScanCompleted.stats``. Everything is derived from the log, so
dropping it and folding again gives the same answers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from semantik_contracts.events import ScanStats

_PAGE = 500


@dataclass(slots=True)
class DocumentRecord:
    id: UUID
    collection_id: UUID
    sha256: str
    current: bool = False
    operation_id: UUID | None = None
    source_id: UUID | None = None
    path: str = ""
    size: int = 0
    chunk_count: int = 0
    replaces: list[UUID] = field(default_factory=list)
    #: The file the document comes from: its path, or the record file of a row.
    file: str = ""
    mime: str = ""
    embedded_chunks: int = 0
    embed_error: str = ""
    #: The operation that superseded or removed it, while it is not current.
    retired_by: UUID | None = None


@dataclass(frozen=True, slots=True)
class FileFailure:
    """A file of a source that the last scan could not index, and why."""

    source_id: UUID | None
    path: str
    reason: str
    operation_id: UUID


@dataclass(slots=True)
class Tally:
    """What one operation's scan did, counted from its events."""

    new_documents: int = 0
    chunks: int = 0
    bytes: int = 0
    duplicates_skipped: int = 0
    unchanged_skipped: int = 0
    failed: int = 0
    failed_files: int = 0
    removed: int = 0
    removed_chunks: int = 0
    removed_bytes: int = 0
    reindexed: int = 0

    def stats(self) -> ScanStats:
        found = (
            self.new_documents
            + self.duplicates_skipped
            + self.unchanged_skipped
            + self.failed_files
            + self.reindexed
        )
        return ScanStats(
            total_files_found=found,
            new_documents=self.new_documents,
            duplicates_skipped=self.duplicates_skipped,
            unchanged_skipped=self.unchanged_skipped,
            failed=self.failed,
            removed=self.removed,
            bytes=self.bytes,
            chunks=self.chunks,
            removed_chunks=self.removed_chunks,
            removed_bytes=self.removed_bytes,
            reindexed_documents=self.reindexed,
        )


class Registry:
    def __init__(self, app: Application[UUID]) -> None:
        self.app = app
        self.position = 0
        self.documents: dict[UUID, DocumentRecord] = {}
        self.paths: dict[tuple[UUID, str], UUID] = {}
        self.open_scans: set[UUID] = set()
        self.tallies: dict[UUID, Tally] = {}
        #: (collection, path) → the failure of the file there, until it is indexed.
        self.failures: dict[tuple[UUID, str], FileFailure] = {}
        #: document → the sources holding a duplicate of it (skipped, not indexed).
        self.duplicates: dict[UUID, set[UUID]] = {}
        #: operation → the documents a reindex embedded again (its work, ``ResumeWork``).
        self.resubmitted: dict[UUID, set[UUID]] = {}
        self._lock = threading.Lock()

    def rebuild(self) -> None:
        with self._lock:
            self.position = 0
            self.documents.clear()
            self.paths.clear()
            self.open_scans.clear()
            self.tallies.clear()
            self.failures.clear()
            self.duplicates.clear()
            self.resubmitted.clear()
        self.catch_up()

    def catch_up(self) -> None:
        """Fold every notification after the last one seen."""
        with self._lock:
            while True:
                batch = self.app.recorder.select_notifications(self.position + 1, _PAGE)
                for notification in batch:
                    self._apply(self.app.mapper.to_domain_event(notification))
                    self.position = notification.id
                if len(batch) < _PAGE:
                    return

    # -- queries -------------------------------------------------------------------
    def current_at(self, collection_id: UUID, path: str) -> DocumentRecord | None:
        found = self.paths.get((collection_id, path))
        return None if found is None else self.documents[found]

    def current_of_source(self, collection_id: UUID, source_id: UUID) -> list[DocumentRecord]:
        found = [
            d
            for d in self.documents.values()
            if d.current and d.collection_id == collection_id and d.source_id == source_id
        ]
        return sorted(found, key=lambda d: d.path)

    def stats(self, operation_id: UUID) -> ScanStats:
        return self.tallies.get(operation_id, Tally()).stats()

    def work_of(self, operation_id: UUID) -> list[DocumentRecord]:
        """The documents whose embed work ``operation_id`` published: those it registered
        (or retried), and those a reindex embedded again."""
        again = self.resubmitted.get(operation_id, set())
        found = [
            d
            for d in self.documents.values()
            if d.current and (d.operation_id == operation_id or d.id in again)
        ]
        return sorted(found, key=lambda d: d.path)

    # -- folding -------------------------------------------------------------------
    def _tally(self, operation_id: UUID) -> Tally:
        return self.tallies.setdefault(operation_id, Tally())

    def _apply(self, e: Any) -> None:
        name = type(e).__name__
        if name == "DocumentCreated":
            self.documents[e.originator_id] = DocumentRecord(
                e.originator_id, e.collection_id, e.sha256
            )
        elif name == "DocumentRegistered":
            doc = self.documents[e.originator_id]
            doc.current, doc.operation_id, doc.source_id = True, e.operation_id, e.source_id
            doc.path, doc.size, doc.chunk_count = e.path, e.size, e.chunk_count
            doc.replaces = list(e.replaces)
            doc.file = getattr(e, "file", "") or e.path
            doc.mime, doc.embedded_chunks, doc.embed_error = e.mime, 0, ""
            doc.retired_by = None
            self.paths[(doc.collection_id, doc.path)] = doc.id
            self.failures.pop((doc.collection_id, doc.path), None)
            tally = self._tally(e.operation_id)
            tally.new_documents += 1
            tally.chunks += e.chunk_count
            tally.bytes += e.size
        elif name in ("DocumentSuperseded", "DocumentRemoved"):
            doc = self.documents[e.originator_id]
            doc.current, doc.retired_by = False, e.operation_id
            if self.paths.get((doc.collection_id, doc.path)) == doc.id:
                del self.paths[(doc.collection_id, doc.path)]
            tally = self._tally(e.operation_id)
            tally.removed += 1
            tally.removed_chunks += e.chunk_count
            tally.removed_bytes += doc.size
        elif name == "DocumentReverted":  # a stopped reindex's registration, undone
            doc = self.documents[e.originator_id]
            doc.current = False
            if self.paths.get((doc.collection_id, doc.path)) == doc.id:
                del self.paths[(doc.collection_id, doc.path)]
        elif name == "DocumentRestored":  # what a stopped reindex retired, current again
            doc = self.documents[e.originator_id]
            doc.current, doc.retired_by = True, None
            self.paths[(doc.collection_id, doc.path)] = doc.id
        elif name == "ScanStarted":
            self.open_scans.add(e.operation_id)
        elif name == "DocumentEmbedded":
            self.documents[e.originator_id].embedded_chunks += e.chunk_count
        elif name == "DocumentEmbeddingFailed":
            self.documents[e.originator_id].embed_error = e.reason
        elif name == "DocumentRetried":
            doc = self.documents[e.originator_id]
            doc.operation_id, doc.embedded_chunks, doc.embed_error = e.operation_id, 0, ""
            doc.chunk_count = e.chunk_count
            tally = self._tally(e.operation_id)
            tally.new_documents += 1  # its first registration's embedding never counted
            tally.chunks += e.chunk_count
        elif name == "DocumentSkipped":
            self.failures.pop((e.collection_id, e.path), None)
            tally = self._tally(e.operation_id)
            if e.reason == "duplicate":
                tally.duplicates_skipped += 1
                if e.document_id is not None:
                    self.duplicates.setdefault(e.document_id, set()).add(e.source_id)
            else:
                tally.unchanged_skipped += 1
        elif name == "DocumentResubmitted":
            self.resubmitted.setdefault(e.operation_id, set()).add(e.document_id)
            tally = self._tally(e.operation_id)
            tally.reindexed += 1
            tally.chunks += e.chunk_count
        elif name == "DocumentFailed":
            tally = self._tally(e.operation_id)
            tally.failed += 1
            tally.failed_files += e.kind == "file"
            if e.kind == "file":
                key = (e.collection_id, e.path)
                self.failures[key] = FileFailure(e.source_id, e.path, e.reason, e.operation_id)
        elif name == "ScanCompleted":
            self.open_scans.discard(e.operation_id)
