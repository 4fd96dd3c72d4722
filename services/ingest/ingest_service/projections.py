"""The document registry: ingest's log folded into what a scan needs to decide.

Per collection: path → current document (id, sha256, chunk count, source); each
document's state; the scans not yet completed (resumed at start-up); and per operation
the tallies that become ``ScanCompleted.stats``. Everything is derived from the log, so
dropping it and folding again gives the same answers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from semantik_contracts.events import ScanStats
from semantik_runtime.folding import FoldedLog

from .domain import Document
from .scan_aggregate import Scan


def event_class(aggregate: type, name: str) -> type:
    """An event class the ``@event`` decorator made on an aggregate (typed for mypy)."""
    found: type = getattr(aggregate, name)
    return found


# The events the registry folds, dispatched on by class (``Registry._apply``).
DocumentCreated = event_class(Document, "DocumentCreated")
DocumentEmbedded = event_class(Document, "DocumentEmbedded")
DocumentEmbeddingFailed = event_class(Document, "DocumentEmbeddingFailed")
DocumentRegistered = event_class(Document, "DocumentRegistered")
DocumentRemoved = event_class(Document, "DocumentRemoved")
DocumentRestored = event_class(Document, "DocumentRestored")
DocumentRetried = event_class(Document, "DocumentRetried")
DocumentReverted = event_class(Document, "DocumentReverted")
DocumentSuperseded = event_class(Document, "DocumentSuperseded")
DocumentFailed = event_class(Scan, "DocumentFailed")
DocumentResubmitted = event_class(Scan, "DocumentResubmitted")
DocumentSkipped = event_class(Scan, "DocumentSkipped")
ScanCompleted = event_class(Scan, "ScanCompleted")
ScanStarted = event_class(Scan, "ScanStarted")


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


class Registry(FoldedLog):
    stored_as = "ingest-registry-v1"
    tables = (
        "documents",
        "paths",
        "open_scans",
        "tallies",
        "failures",
        "duplicates",
        "resubmitted",
    )

    def __init__(self, app: Application[UUID]) -> None:
        super().__init__(app)
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

    def _clear(self) -> None:
        self.documents.clear()
        self.paths.clear()
        self.open_scans.clear()
        self.tallies.clear()
        self.failures.clear()
        self.duplicates.clear()
        self.resubmitted.clear()

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
        self._touch("tallies", operation_id)
        return self.tallies.setdefault(operation_id, Tally())

    def _document(self, document_id: UUID) -> DocumentRecord:
        self._touch("documents", document_id)
        return self.documents[document_id]

    def _set_path(self, doc: DocumentRecord) -> None:
        self.paths[(doc.collection_id, doc.path)] = doc.id
        self._touch("paths", (doc.collection_id, doc.path))

    def _drop_path(self, doc: DocumentRecord) -> None:
        if self.paths.get((doc.collection_id, doc.path)) == doc.id:
            del self.paths[(doc.collection_id, doc.path)]
            self._touch("paths", (doc.collection_id, doc.path))

    def _drop_failure(self, key: tuple[UUID, str]) -> None:
        if self.failures.pop(key, None) is not None:
            self._touch("failures", key)

    @functools.singledispatchmethod
    def _apply(self, e: Any) -> None:
        """An event that changes nothing the registry answers (progress, for one)."""

    @_apply.register(DocumentCreated)
    def _created(self, e: Any) -> None:
        self.documents[e.originator_id] = DocumentRecord(e.originator_id, e.collection_id, e.sha256)
        self._touch("documents", e.originator_id)

    @_apply.register(DocumentRegistered)
    def _registered(self, e: Any) -> None:
        doc = self._document(e.originator_id)
        doc.current, doc.operation_id, doc.source_id = True, e.operation_id, e.source_id
        doc.path, doc.size, doc.chunk_count = e.path, e.size, e.chunk_count
        doc.replaces = list(e.replaces)
        doc.file = getattr(e, "file", "") or e.path
        doc.mime, doc.embedded_chunks, doc.embed_error = e.mime, 0, ""
        doc.retired_by = None
        self._set_path(doc)
        self._drop_failure((doc.collection_id, doc.path))
        tally = self._tally(e.operation_id)
        tally.new_documents += 1
        tally.chunks += e.chunk_count
        tally.bytes += e.size

    @_apply.register(DocumentSuperseded)
    @_apply.register(DocumentRemoved)
    def _retired(self, e: Any) -> None:
        doc = self._document(e.originator_id)
        doc.current, doc.retired_by = False, e.operation_id
        self._drop_path(doc)
        tally = self._tally(e.operation_id)
        tally.removed += 1
        tally.removed_chunks += e.chunk_count
        tally.removed_bytes += doc.size

    @_apply.register(DocumentReverted)
    def _reverted(self, e: Any) -> None:
        """A stopped reindex's registration, undone."""
        doc = self._document(e.originator_id)
        doc.current = False
        self._drop_path(doc)

    @_apply.register(DocumentRestored)
    def _restored(self, e: Any) -> None:
        """What a stopped reindex retired, current again."""
        doc = self._document(e.originator_id)
        doc.current, doc.retired_by = True, None
        self._set_path(doc)

    @_apply.register(ScanStarted)
    def _scan_started(self, e: Any) -> None:
        self.open_scans.add(e.operation_id)
        self._touch("open_scans", e.operation_id)

    @_apply.register(DocumentEmbedded)
    def _embedded(self, e: Any) -> None:
        self._document(e.originator_id).embedded_chunks += e.chunk_count

    @_apply.register(DocumentEmbeddingFailed)
    def _embedding_failed(self, e: Any) -> None:
        self._document(e.originator_id).embed_error = e.reason

    @_apply.register(DocumentRetried)
    def _retried(self, e: Any) -> None:
        doc = self._document(e.originator_id)
        doc.operation_id, doc.embedded_chunks, doc.embed_error = e.operation_id, 0, ""
        doc.chunk_count = e.chunk_count
        tally = self._tally(e.operation_id)
        tally.new_documents += 1  # its first registration's embedding never counted
        tally.chunks += e.chunk_count

    @_apply.register(DocumentSkipped)
    def _skipped(self, e: Any) -> None:
        self._drop_failure((e.collection_id, e.path))
        tally = self._tally(e.operation_id)
        if e.reason == "duplicate":
            tally.duplicates_skipped += 1
            if e.document_id is not None:
                self.duplicates.setdefault(e.document_id, set()).add(e.source_id)
                self._touch("duplicates", e.document_id)
        else:
            tally.unchanged_skipped += 1

    @_apply.register(DocumentResubmitted)
    def _resubmitted(self, e: Any) -> None:
        self.resubmitted.setdefault(e.operation_id, set()).add(e.document_id)
        self._touch("resubmitted", e.operation_id)
        tally = self._tally(e.operation_id)
        tally.reindexed += 1
        tally.chunks += e.chunk_count

    @_apply.register(DocumentFailed)
    def _failed(self, e: Any) -> None:
        tally = self._tally(e.operation_id)
        tally.failed += 1
        tally.failed_files += e.kind == "file"
        if e.kind == "file":
            key = (e.collection_id, e.path)
            self.failures[key] = FileFailure(e.source_id, e.path, e.reason, e.operation_id)
            self._touch("failures", key)

    @_apply.register(ScanCompleted)
    def _scan_completed(self, e: Any) -> None:
        self.open_scans.discard(e.operation_id)
        self._touch("open_scans", e.operation_id)
