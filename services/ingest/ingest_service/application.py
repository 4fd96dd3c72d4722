"""The ingest application: scans and documents, decided against the registry.

Synchronous (eventsourcing); the service runs every call on one writer thread, so the
registry and the aggregates are never touched by two threads at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from semantik_contracts import SkipReason
from semantik_contracts.commands import ListDocuments
from semantik_contracts.events import (
    ChunksEmbedded,
    EmbeddingFailed,
    OperationRequested,
    ScanStats,
)
from semantik_contracts.search import DEFAULT_MODEL
from semantik_contracts.views import DocumentView, Page
from semantik_runtime.snapshots import Snapshotting

from .documents import documents_page
from .domain import ContentAlreadyRegistered, Document, document_id, scan_id, work_id
from .projections import DocumentRecord, Registry
from .scan_aggregate import Scan, ScanSource


class Action(StrEnum):
    UNCHANGED = "unchanged"  # this path already holds this content
    DUPLICATE = "duplicate"  # the content is registered under another path
    REPUBLISH = "republish"  # this operation registered it already (a resumed scan)
    RETRY = "retry"  # registered here, but its embedding failed: publish it again
    NEW = "new"  # register it, superseding what the path held before


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    document_id: UUID
    #: The document this path held before, with other content.
    stale: DocumentRecord | None = None
    #: The registered document (REPUBLISH).
    record: DocumentRecord | None = None


@dataclass(frozen=True, slots=True)
class NewDocument:
    source_id: UUID
    path: str
    sha256: str
    size: int
    mime: str
    chunk_count: int
    #: The record file a row comes from; empty for a document that is a whole file.
    file: str = ""


class IngestApplication(Snapshotting):
    """Ingest's event-sourced registry of scans and documents.

    Both are snapshotted (``snapshot_every``, in events; see ``semantik_runtime.snapshots``):

    - ``Scan`` every 500: it records an event per path it skips, fails or resubmits and
      its progress about once a second, so a scan of many files, resumed after a crash,
      loads from a snapshot that holds the paths it handled instead of all those events.
    - ``Document`` every 100: it lives as long as its content is in the collection, a
      few events per operation that registers, embeds, retries or retires it.
    """

    name = "ingest"
    snapshot_every = {Scan: 500, Document: 100}

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env={"AGGREGATE_CACHE_MAXSIZE": "1000", **env})
        self.registry = Registry(self)
        self.registry.catch_up()
        self.on_saved: Callable[[], None] = lambda: None

    def commit(self, *aggregates: Aggregate) -> None:
        """Save atomically, bring the registry up to date, and wake the relay."""
        self.save(*aggregates)
        self.registry.catch_up()
        self.on_saved()

    # -- scans ---------------------------------------------------------------------
    def start_scan(self, request: OperationRequested, sources: list[ScanSource]) -> Scan:
        """Record ``ScanStarted`` once per operation; a redelivered request gets the scan."""
        chunk_size = request.chunk_size or DEFAULT_MODEL.max_seq_length
        overlap = request.chunk_overlap if request.chunk_size else chunk_size // 10
        scan = Scan(
            id=scan_id(request.operation_id),
            collection_id=request.collection_id,
            operation_id=request.operation_id,
            operation_type=request.operation_type.value,
            generation=request.generation,
            model_name=request.model_name or DEFAULT_MODEL.name,
            chunk_size=chunk_size,
            chunk_overlap=overlap,
            sources=[source.to_dict() for source in sources],
        )
        try:
            self.commit(scan)
        except IntegrityError:
            return self.get_scan(request.operation_id)
        return scan

    def get_scan(self, operation_id: UUID) -> Scan:
        scan: Scan = self.repository.get(scan_id(operation_id))
        return scan

    def scan_to_run(self, operation_id: UUID) -> Scan:
        """The scan, with the registry caught up first: another replica may have run
        part of it (its registrations decide what this one republishes or skips)."""
        self.registry.catch_up()
        return self.get_scan(operation_id)

    def find_scan(self, operation_id: UUID) -> Scan | None:
        """The operation's scan; None when it never started here."""
        try:
            return self.get_scan(operation_id)
        except AggregateNotFoundError:
            return None

    def unfinished_work(
        self, operation_id: UUID, done: set[str], prefix: str = ""
    ) -> list[tuple[DocumentRecord, set[str]]]:
        """The operation's documents with work not known to be done, each with the work
        ids of it that are: done in ``done`` (the operation's count) and in the document's
        own record (its ``ChunksEmbedded`` seen here); work done in one but not the other
        is published again, so both learn of it. ``prefix``: only documents whose id
        starts with it. The registry catches up first: another replica may have run
        the scan."""
        self.registry.catch_up()
        found = []
        generation = self.get_scan(operation_id).generation
        for record in self.registry.work_of(operation_id):
            if not str(record.id).startswith(prefix):
                continue
            doc: Document = self.repository.get(record.id)
            finished = done & doc.work_done if doc.operation_id == operation_id else done
            if work_id(operation_id, record.id, generation) not in finished:
                found.append((record, finished))
        return found

    def is_open_scan(self, operation_id: UUID) -> bool:
        """Started and not completed (by any replica: the registry catches up first)."""
        self.registry.catch_up()
        return operation_id in self.registry.open_scans

    def open_scans(self) -> list[UUID]:
        """Scans started and never completed: the event store says what to resume. The
        registry catches up first: other replicas start and complete scans too."""
        self.registry.catch_up()
        return sorted(self.registry.open_scans)

    def note_skip(
        self, scan: Scan, source_id: UUID, path: str, reason: SkipReason, document: UUID | None
    ) -> None:
        """Record a skip on the scan; saved by the next ``flush`` (batched)."""
        scan.skip(source_id, path, reason, document)

    def note_failure(
        self, scan: Scan, source_id: UUID | None, path: str, reason: str, kind: str = "file"
    ) -> None:
        scan.fail(source_id, path, reason, kind)

    def note_resubmitted(
        self, scan: Scan, source_id: UUID, path: str, document: UUID, chunk_count: int
    ) -> None:
        """Record a reindexed document; saved by the next ``flush`` (batched)."""
        scan.resubmit(source_id, path, document, chunk_count)

    def flush(self, scan: Scan) -> None:
        if scan.pending_events:
            self.commit(scan)

    def report_progress(self, scan: Scan, files_found: int, files_done: int) -> ScanStats:
        """Save what is pending and record the scan's progress so far."""
        self.flush(scan)
        stats = self.registry.stats(scan.operation_id)
        scan.progress(files_found, files_done, stats.model_dump())
        self.commit(scan)
        return stats

    def complete(self, scan: Scan, stopped: bool = False) -> ScanStats:
        """End the scan with its statistics; ``stopped``: it ended early (cancelled)."""
        self.flush(scan)
        stats = self.registry.stats(scan.operation_id).model_copy(update={"stopped": stopped})
        scan.complete(stats.model_dump())
        self.commit(scan)
        if stopped and scan.is_reindex:
            self._revert(scan.operation_id)
        return stats

    def reindex_ended(self, operation_id: UUID) -> int:
        """A reindex failed or was cancelled: its staging generation is dropped.

        What its scan changed in the registry (files changed, appeared or vanished since
        the last index) reached only that generation; left so, the next index would find
        those files unchanged and the serving generation would keep their old text (or
        a vanished file's) for ever. So the registry is put back as it was before the
        reindex (``Document.revert``), and the next index finds the changes and applies
        them to the serving generation. A scan still running is put back when it
        completes (``complete``). Returns how many documents were put back."""
        if operation_id in self.registry.open_scans:
            return 0
        try:
            scan = self.get_scan(operation_id)
        except AggregateNotFoundError:
            return 0  # not a scan of this service (never started: nothing registered)
        return self._revert(operation_id) if scan.is_reindex else 0

    def _revert(self, operation_id: UUID) -> int:
        records = self.registry.documents.values()
        registered = [r.id for r in records if r.current and r.operation_id == operation_id]
        retired = [r.id for r in records if not r.current and r.retired_by == operation_id]
        changed: list[Aggregate] = []
        for doc_id in registered + retired:  # a path's new content goes before its old
            doc: Document = self.repository.get(doc_id)
            if doc.revert(operation_id):
                changed.append(doc)
        if changed:
            self.commit(*changed)
        return len(changed)

    # -- documents -----------------------------------------------------------------
    def documents_of_source(self, collection_id: UUID, source_id: UUID) -> list[DocumentRecord]:
        return self.registry.current_of_source(collection_id, source_id)

    def classify(self, scan: Scan, path: str, sha256: str) -> Decision:
        """What to do with ``path``, whose content hashes to ``sha256``."""
        doc_id = document_id(scan.collection_id, sha256)
        at_path = self.registry.current_at(scan.collection_id, path)
        doc = self.registry.documents.get(doc_id)
        if doc is not None and doc.current:
            if doc.operation_id == scan.operation_id and doc.path == path:
                return Decision(Action.REPUBLISH, doc_id, record=doc)
            if at_path is not None and at_path.id == doc_id:
                if doc.embed_error:
                    return Decision(Action.RETRY, doc_id, record=doc)
                return Decision(Action.UNCHANGED, doc_id)
            return Decision(Action.DUPLICATE, doc_id, stale=at_path)
        return Decision(Action.NEW, doc_id, stale=at_path)

    def retry(self, scan: Scan, document: UUID, chunk_count: int) -> None:
        doc: Document = self.repository.get(document)
        doc.retry(scan.operation_id, chunk_count)
        self.commit(doc)

    # -- what the embedders report -------------------------------------------------
    def note_embedded(self, batch: list[ChunksEmbedded]) -> None:
        """Mark documents embedded, a batch of the embedders' events in one transaction
        (an index sends one per document); each document is loaded once."""
        self.know(e.document_id for e in batch)
        changed: dict[UUID, Document] = {}
        for e in batch:
            doc = changed.get(e.document_id)
            if doc is None and e.document_id in self.registry.documents:
                doc = self.repository.get(e.document_id)
            if doc is not None and doc.embedded(e.operation_id, e.work_id, e.chunk_count):
                changed[e.document_id] = doc
        if changed:
            self.commit(*changed.values())

    def note_embedding_failed(self, e: EmbeddingFailed) -> None:
        self.know([e.document_id])
        if e.document_id in self.registry.documents:
            doc: Document = self.repository.get(e.document_id)
            if doc.embedding_failed(e.operation_id, e.work_id, e.reason):
                self.commit(doc)

    def know(self, documents: Iterable[UUID]) -> None:
        """Catch the registry up when a document is not in it: another replica may have
        registered it (its embedding reported here is not dropped, and a document asked
        for is found)."""
        if any(doc not in self.registry.documents for doc in documents):
            self.registry.catch_up()

    def list_documents(self, query: ListDocuments) -> Page[DocumentView]:
        self.registry.catch_up()  # what other replicas indexed too
        return documents_page(self.registry, query)

    def duplicate_holders(self, documents: set[UUID]) -> set[UUID]:
        """The sources that hold a duplicate of any of ``documents``."""
        held = (self.registry.duplicates.get(doc, set()) for doc in documents)
        return set().union(*held)

    def classify_many(self, scan: Scan, items: list[tuple[str, str]]) -> list[Decision]:
        """``classify`` for each (path, sha256), in one call."""
        return [self.classify(scan, path, sha256) for path, sha256 in items]

    def note_skips(
        self, scan: Scan, skips: list[tuple[UUID, str, SkipReason, UUID | None]]
    ) -> None:
        for source_id, path, reason, document in skips:
            scan.skip(source_id, path, reason, document)

    def register_many(self, scan: Scan, batch: list[tuple[NewDocument, UUID | None]]) -> list[bool]:
        """Register many documents in one atomic save (rows of a record file).

        Anything unusual (content registered meanwhile, twice in the batch, a concurrent
        save) makes the batch fall back to one registration at a time.
        """
        changed: list[Aggregate] = []
        seen: set[UUID] = set()
        for new, stale in batch:
            doc_id = document_id(scan.collection_id, new.sha256)
            if doc_id in seen or (stale is not None and stale in seen):
                break
            seen.update((doc_id, *([stale] if stale else [])))
            known = self.registry.documents.get(doc_id)
            if known is not None and known.current:
                break
            changed.extend(self._registration(scan, new, stale))
        else:
            try:
                self.commit(*changed)
                return [True] * len(batch)
            except IntegrityError:
                self.registry.catch_up()
        # The aggregates above were changed in memory only (the cache hands out copies).
        return [self.register(scan, new, stale) for new, stale in batch]

    def register(self, scan: Scan, new: NewDocument, stale: UUID | None) -> bool:
        """Register content (superseding ``stale``); False when another registration won."""
        try:
            changed = self._registration(scan, new, stale)
        except ContentAlreadyRegistered:
            return False
        try:
            self.commit(*changed)
        except IntegrityError:
            self.registry.catch_up()  # someone else saved first: decide again
            return False
        return True

    def _registration(self, scan: Scan, new: NewDocument, stale: UUID | None) -> list[Aggregate]:
        """The registered document and the one it supersedes, changed but not saved."""
        doc_id = document_id(scan.collection_id, new.sha256)
        if doc_id in self.registry.documents:
            doc: Document = self.repository.get(doc_id)
        else:
            doc = Document.of_content(scan.collection_id, new.sha256)
        doc.register(
            operation_id=scan.operation_id,
            source_id=new.source_id,
            path=new.path,
            size=new.size,
            mime=new.mime,
            chunk_count=new.chunk_count,
            replaces=[stale] if stale else [],
            file=new.file,
        )
        changed: list[Aggregate] = [doc]
        if stale is not None:
            previous: Document = self.repository.get(stale)
            previous.supersede(doc.id, scan.operation_id)
            changed.append(previous)
        return changed

    def remove(self, operation_id: UUID, document_ids: list[UUID]) -> None:
        """Retire documents whose files vanished (their points were deleted first)."""
        changed = []
        for doc_id in document_ids:
            doc: Document = self.repository.get(doc_id)
            doc.remove(operation_id)
            changed.append(doc)
        if changed:
            self.commit(*changed)
