"""The Operation aggregate: one long-running job on a collection (SPEC §3). Pure."""

from __future__ import annotations

from copy import deepcopy
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from semantik_contracts import OperationStatus, OperationType

from .status import check_operation_transition
from .values import CountDelta

#: Failures kept on the aggregate for the UI; the full list lives in ingest's registry.
MAX_FAILURES_KEPT = 200
#: The key prefix of a file the scan failed (``DocumentFailed``), before its path.
SCAN_FAILURE = "failed:"

#: A reindex's checkpoints in the order they are reached (seed 004).
CHECKPOINTS = ("preflight", "staging", "reprocessing", "validation", "activation", "cleanup")


def _now() -> datetime:
    return datetime.now(UTC)


class Operation(Aggregate):
    class OperationQueued(Aggregate.Created):
        """Created waiting in its collection's queue (SPEC §12); ``Requested`` follows
        when it starts. The settings it will run with are known then, not now."""

        collection_id: UUID
        operation_type: str
        params: dict[str, Any]
        requested_by: str
        source_ids: list[UUID]
        generation: int
        model_name: str
        chunk_size: int
        chunk_overlap: int
        requested_at: datetime
        queue_position: int

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Operation)
            aggregate.status = OperationStatus.QUEUED

    class Requested(Aggregate.Event):
        """A queued operation starts: published as ``OperationRequested`` (its name
        below), the event ingest acts on, with the same fields as the creation event of
        an operation that started at once (``__init__``)."""

        collection_id: UUID
        operation_type: str
        params: dict[str, Any]
        requested_by: str
        source_ids: list[UUID]
        generation: int
        model_name: str
        chunk_size: int
        chunk_overlap: int
        sources: list[dict[str, Any]]

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["sources"] = []  # described by ``sources`` since v2 (ingest reads them)

    class OperationRequested(Aggregate.Created):
        """An operation that started at once (``__init__``). v2 added ``sources``: the
        sources it reads, described for ingest; v1 events describe none."""

        class_version = 2
        collection_id: UUID
        operation_type: str
        params: dict[str, Any]
        requested_by: str
        source_ids: list[UUID]
        generation: int
        model_name: str
        chunk_size: int
        chunk_overlap: int
        requested_at: datetime
        sources: list[dict[str, Any]]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["sources"] = []

    @classmethod
    def queued(
        cls,
        id: UUID,
        collection_id: UUID,
        operation_type: str,
        params: dict[str, Any],
        requested_by: str,
        source_ids: list[UUID],
        queue_position: int,
    ) -> Operation:
        return cls._create(
            cls.OperationQueued,
            id=id,
            collection_id=collection_id,
            operation_type=operation_type,
            params=params,
            requested_by=requested_by,
            source_ids=source_ids,
            generation=0,
            model_name="",
            chunk_size=0,
            chunk_overlap=0,
            requested_at=_now(),
            queue_position=queue_position,
        )

    @event("OperationRequested")
    def __init__(
        self,
        id: UUID,
        collection_id: UUID,
        operation_type: str,
        params: dict[str, Any],
        requested_by: str,
        source_ids: list[UUID],
        generation: int,
        model_name: str,
        chunk_size: int,
        chunk_overlap: int,
        requested_at: datetime,
        sources: list[dict[str, Any]] | None = None,  # for ingest; none while queued
    ) -> None:
        self.collection_id = collection_id
        self.operation_type = OperationType(operation_type)
        self.params = params
        self.requested_by = requested_by
        self.source_ids = source_ids
        self.generation = generation
        self.model_name = model_name
        self.status = OperationStatus.PENDING
        self.requested_at = requested_at
        self.started_at: datetime | None = None
        self.completed_at: datetime | None = None
        self.scan_stats: dict[str, Any] | None = None
        self.embedded_chunks = 0
        self.failed_chunks = 0
        self.failed_documents = 0
        #: Files ingest's scan failed (``DocumentFailed``) whose events were folded in.
        self.scan_failures = 0
        self.counted: set[str] = set()
        self.failures: list[dict[str, str]] = []
        self.error: str | None = None
        self.message = "queued"  # the message of a pending one too, until it starts
        self.checkpoint: str | None = None  # a reindex's stage (seed 004)
        self.stats: dict[str, Any] = {}
        #: Its effect on the collection's counts is applied (once, at the end of its work).
        self.settled = False

    def __deepcopy__(self, memo: dict[int, Any]) -> Operation:
        """The repository deep-copies an aggregate out of its cache on every get, once
        per event the process manager folds in. ``counted`` grows by one key per work
        item, and copying it key by key made an operation of n documents cost O(n²);
        its keys are immutable strings, so a new set of the same keys is a deep copy."""
        copied = type(self).__new__(type(self))
        memo[id(self)] = copied
        for name, value in self.__dict__.items():
            copied.__dict__[name] = set(value) if name == "counted" else deepcopy(value, memo)
        return copied

    # -- derived -------------------------------------------------------------------
    @property
    def expected_chunks(self) -> int | None:
        return None if self.scan_stats is None else int(self.scan_stats.get("chunks", 0))

    @property
    def skipped(self) -> int:
        stats = self.scan_stats or {}
        return int(stats.get("duplicates_skipped", 0)) + int(stats.get("unchanged_skipped", 0))

    @property
    def progress(self) -> float:
        if self.status is OperationStatus.COMPLETED:
            return 1.0
        expected = self.expected_chunks
        if not expected:
            return 0.0
        return min(1.0, (self.embedded_chunks + self.failed_chunks) / expected)

    @property
    def all_work_done(self) -> bool:
        """Every chunk the scan counted is embedded or failed, and every file failure it
        counted is in: ``DocumentFailed`` and ``ScanCompleted`` come through consumers of
        their own, so the scan's end may be folded in before some of its failures."""
        expected = self.expected_chunks
        if expected is None or self.embedded_chunks + self.failed_chunks < expected:
            return False
        return self.scan_failures >= int((self.scan_stats or {}).get("failed", 0))

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def counting(self) -> bool:
        """Still folding its work's events: until settled, even after a cancellation,
        because work queued before it still lands in the collection (kept, SPEC §3)."""
        return not self.settled

    def count_delta(self) -> CountDelta:
        """What this operation's work changed in the collection, as far as it is known."""
        stats = self.scan_stats or {}
        embedding_failures = self.failed_documents - int(stats.get("failed", 0))
        return CountDelta(
            documents=int(stats.get("new_documents", 0))
            - int(stats.get("removed", 0))
            - embedding_failures,
            chunks=self.embedded_chunks - int(stats.get("removed_chunks", 0)),
            size_bytes=int(stats.get("bytes", 0)) - int(stats.get("removed_bytes", 0)),
        )

    # -- commands ------------------------------------------------------------------
    def request(
        self,
        generation: int,
        model_name: str,
        chunk_size: int,
        chunk_overlap: int,
        sources: list[dict[str, Any]],
    ) -> None:
        """A queued operation reaches the head of the queue: ingest is asked to run it."""
        check_operation_transition(self.id, self.status, OperationStatus.PENDING)
        self._requested(
            collection_id=self.collection_id,
            operation_type=self.operation_type.value,
            params=self.params,
            requested_by=self.requested_by,
            source_ids=self.source_ids,
            generation=generation,
            model_name=model_name,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            sources=sources,
        )

    def start(self) -> None:
        if self.status is OperationStatus.PENDING:
            self._started(collection_id=self.collection_id, started_at=_now())

    def record_scan(self, stats: dict[str, Any]) -> None:
        if self.scan_stats is None and self.counting:
            self._scan_tallied(stats=stats)

    def record_scan_progress(
        self, files_done: int, files_found: int, stats: dict[str, Any]
    ) -> None:
        """How far ingest's scan is, while it runs (its ``ScanProgressed``, about 1/s)."""
        if self.scan_stats is None and not self.is_terminal:
            self._scan_advanced(files_done=files_done, files_found=files_found, stats=stats)

    def record_embedded(self, key: str, chunk_count: int) -> bool:
        """Count a document's embedded chunks once, however often the event arrives."""
        if key in self.counted or not self.counting:
            return False
        self._chunks_tallied(key=key, chunk_count=chunk_count)
        return True

    def record_failure(self, key: str, path: str, reason: str, chunk_count: int = 0) -> bool:
        if key in self.counted or not self.counting:
            return False
        self._failure_recorded(key=key, path=path, reason=reason, chunk_count=chunk_count)
        return True

    def report_progress(self) -> None:
        if self.is_terminal:
            return
        self._progressed(
            collection_id=self.collection_id,
            status=self.status.value,
            progress=round(self.progress, 4),
            processed=self.embedded_chunks,
            total=self.expected_chunks or 0,
            skipped=self.skipped,
            failed=self.failed_documents,
            message=self.message,
        )

    def reach_checkpoint(self, checkpoint: str, detail: str = "") -> None:
        """Record a reindex checkpoint (preflight, staging, reprocessing, validation,
        activation, cleanup); progress events carry it as their message.

        Only forward: ingest's ``ScanStarted`` comes through a consumer of its own and
        may be folded in after the scan's end and its chunks, which already took the
        reindex to validation; going back to "reprocessing" would hide it from the
        reindex flow, which validates what waits at "validation", and strand it."""
        order = CHECKPOINTS.index
        if self.checkpoint is not None and order(checkpoint) <= order(self.checkpoint):
            return
        if not self.is_terminal:
            self._checkpoint_reached(
                collection_id=self.collection_id, checkpoint=checkpoint, detail=detail
            )

    def complete(self) -> dict[str, Any]:
        self.start()  # a scan may report its end before its start was seen
        check_operation_transition(self.id, self.status, OperationStatus.COMPLETED)
        stats = dict(self.scan_stats or {})
        stats.update(
            embedded_chunks=self.embedded_chunks,
            failed_chunks=self.failed_chunks,
            failed_documents=self.failed_documents,
        )
        self._completed(collection_id=self.collection_id, stats=stats, completed_at=_now())
        return stats

    def fail(self, error: str) -> None:
        check_operation_transition(self.id, self.status, OperationStatus.FAILED)
        self._failed(collection_id=self.collection_id, error=error, completed_at=_now())

    def cancel(self, reason: str) -> None:
        check_operation_transition(self.id, self.status, OperationStatus.CANCELLED)
        self._cancelled(collection_id=self.collection_id, reason=reason, completed_at=_now())

    def settle(self) -> CountDelta:
        """Close the books: the delta to apply to the collection, exactly once."""
        delta = self.count_delta()
        self._settled(documents=delta.documents, chunks=delta.chunks, size_bytes=delta.size_bytes)
        return delta

    # -- events --------------------------------------------------------------------
    @event(Requested)
    def _requested(
        self,
        collection_id: UUID,
        operation_type: str,
        params: dict[str, Any],
        requested_by: str,
        source_ids: list[UUID],
        generation: int,
        model_name: str,
        chunk_size: int,
        chunk_overlap: int,
        sources: list[dict[str, Any]],
    ) -> None:
        self.status = OperationStatus.PENDING
        self.generation = generation
        self.model_name = model_name

    @event("ReindexCheckpointReached")
    def _checkpoint_reached(self, collection_id: UUID, checkpoint: str, detail: str) -> None:
        self.checkpoint = checkpoint
        self.message = f"{checkpoint}: {detail}" if detail else checkpoint

    @event("OperationStarted")
    def _started(self, collection_id: UUID, started_at: datetime) -> None:
        self.status = OperationStatus.PROCESSING
        self.started_at = started_at
        if self.scan_stats is None and self.checkpoint is None:  # else its start came late
            self.message = "scanning"

    @event("ScanTallied")
    def _scan_tallied(self, stats: dict[str, Any]) -> None:
        self.scan_stats = stats
        self.failed_documents += int(stats.get("failed", 0))
        self.message = "embedding"

    @event("ScanAdvanced")
    def _scan_advanced(self, files_done: int, files_found: int, stats: dict[str, Any]) -> None:
        skipped = int(stats.get("duplicates_skipped", 0)) + int(stats.get("unchanged_skipped", 0))
        self.message = (
            f"scanning: {files_done} of {files_found} files; "
            f"{stats.get('new_documents', 0)} new, {skipped} skipped, "
            f"{stats.get('failed', 0)} failed"
        )

    @event("ChunksTallied")
    def _chunks_tallied(self, key: str, chunk_count: int) -> None:
        self.counted.add(key)
        self.embedded_chunks += chunk_count

    @event("FailureRecorded")
    def _failure_recorded(self, key: str, path: str, reason: str, chunk_count: int) -> None:
        self.counted.add(key)
        if key.startswith(SCAN_FAILURE):
            self.scan_failures += 1
        self.failed_chunks += chunk_count
        if chunk_count:
            self.failed_documents += 1
        if len(self.failures) < MAX_FAILURES_KEPT:
            self.failures.append({"path": path, "reason": reason})

    @event("OperationProgressed")
    def _progressed(
        self,
        collection_id: UUID,
        status: str,
        progress: float,
        processed: int,
        total: int,
        skipped: int,
        failed: int,
        message: str,
    ) -> None:
        pass

    @event("OperationCompleted")
    def _completed(
        self, collection_id: UUID, stats: dict[str, Any], completed_at: datetime
    ) -> None:
        self.status = OperationStatus.COMPLETED
        self.stats = stats
        self.completed_at = completed_at
        self.message = "completed"
        self.settled = True  # all its work is in: the counts go with this event's commit

    @event("OperationSettled")
    def _settled(self, documents: int, chunks: int, size_bytes: int) -> None:
        self.settled = True

    @event("OperationFailed")
    def _failed(self, collection_id: UUID, error: str, completed_at: datetime) -> None:
        self.settled = self.settled or self.status is OperationStatus.QUEUED  # no work
        self.status = OperationStatus.FAILED
        self.error = error
        self.completed_at = completed_at
        self.message = "failed"

    @event("OperationCancelled")
    def _cancelled(self, collection_id: UUID, reason: str, completed_at: datetime) -> None:
        self.settled = self.settled or self.status is OperationStatus.QUEUED  # no work
        self.status = OperationStatus.CANCELLED
        self.error = reason or None
        self.completed_at = completed_at
        self.message = "cancelled"


# The relay publishes an event by its class's name (after the class is made: the
# aggregate's metaclass matches its events to their methods by name).
Operation.Requested.__name__ = "OperationRequested"
