"""The operation process manager: folds ingest's and the embedders' events into the
operations they belong to, and finishes each operation exactly once (SPEC §3).

Every handler is idempotent: redelivered events are recognised by a key the operation
records (the work item's id), so counts are never doubled.

Its watchdog (``stalled``) finds operations that made no progress for a while: the bus
may have lost their work or events (SPEC §2), and the service asks ingest to resume them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from semantik_contracts import OperationStatus, OperationType, events

from .application import CollectionsApplication
from .domain import Collection
from .operation import SCAN_FAILURE, Operation

#: Operations whose work ingest scans and publishes (a delete has none).
SCANNED = (
    OperationType.INDEX,
    OperationType.APPEND,
    OperationType.REINDEX,
    OperationType.REMOVE_SOURCE,
)


@dataclass(frozen=True, slots=True)
class Stall:
    """An operation that made no progress for the stall time, the work it counted, and
    the model its work is embedded with."""

    operation_id: UUID
    collection_id: UUID
    done: list[str]
    model: str = ""


#: Work ids sent in one ``ResumeWork`` at most (about 90 bytes each; NATS' default
#: message limit is 1 MB): a larger operation is resumed in parts by document id prefix.
RESUME_PART = 8000


def resume_parts(stall: Stall) -> list[tuple[str, list[str]]]:
    """The stalled operation's counted work ids, split by document id prefix into parts
    that fit a message: ``[("", all)]`` when they fit at once."""
    own = f"{stall.operation_id}:"
    done = [key for key in stall.done if key.startswith(own)]  # not the scan's failures
    digits = 0
    while len(done) > RESUME_PART * 16**digits and digits < 4:
        digits += 1
    if not digits:
        return [("", done)]
    parts: dict[str, list[str]] = {f"{n:0{digits}x}": [] for n in range(16**digits)}
    for key in done:
        parts[key[len(own) : len(own) + digits]].append(key)
    return list(parts.items())


class OperationProcess:
    def __init__(self, app: CollectionsApplication) -> None:
        self.app = app
        self.dirty: set[UUID] = set()
        #: When each running operation last moved (monotonic seconds; this process's
        #: memory: after a restart every operation gets a full stall time again).
        self.moved: dict[UUID, float] = {}

    def _moved(self, operation_id: UUID) -> None:
        self.moved[operation_id] = time.monotonic()

    def _operation(self, operation_id: UUID) -> Operation | None:
        if operation_id not in self.app.read_model.operations:
            # Requested through another replica since this one last read the log: its
            # events must not be dropped here (the consumers hand them to any replica).
            self.app.read_model.catch_up()
            if operation_id not in self.app.read_model.operations:
                return None
        op: Operation = self.app.repository.get(operation_id)
        return op if op.counting else None

    def on_scan_started(self, e: events.ScanStarted) -> None:
        op = self._operation(e.operation_id)
        if op is None or op.is_terminal or op.started_at is not None:
            return
        op.start()
        self._moved(op.id)
        if op.operation_type is OperationType.REINDEX:
            op.reach_checkpoint("reprocessing", "embedding every document again")
        collection: Collection = self.app.repository.get(op.collection_id)
        collection.operation_started(op.operation_type)
        self.app.commit(op, collection)

    def on_document_failed(self, e: events.DocumentFailed) -> None:
        op = self._operation(e.operation_id)
        if op is not None and op.record_failure(f"{SCAN_FAILURE}{e.path}", e.path, e.reason):
            self._settle(op)

    def on_scan_progressed(self, e: events.ScanProgressed) -> None:
        op = self._operation(e.operation_id)
        if op is not None and not op.is_terminal and op.scan_stats is None:
            op.record_scan_progress(e.files_done, e.files_found, e.stats.model_dump())
            self._moved(op.id)
            self.dirty.add(op.id)  # published by the next flush_progress (coalesced)
            self.app.commit(op)

    def on_scan_completed(self, e: events.ScanCompleted) -> None:
        op = self._operation(e.operation_id)
        if op is not None and op.scan_stats is None:
            op.record_scan(e.stats.model_dump())
            self._settle(op)

    def on_chunks_embedded(self, e: events.ChunksEmbedded) -> None:
        self.on_chunks_embedded_many([e])

    def on_chunks_embedded_many(self, batch: list[events.ChunksEmbedded]) -> None:
        """Count embedded chunks, keyed by work id (a large document travels as several
        work items, parts). Each operation of the batch is loaded once, folds in all its
        events, and is saved once: an index of n documents sends n of these events."""
        by_operation: dict[UUID, list[events.ChunksEmbedded]] = {}
        for e in batch:
            by_operation.setdefault(e.operation_id, []).append(e)
        for operation_id, embedded in by_operation.items():
            op = self._operation(operation_id)
            if op is None:
                continue
            self._record_precisions(op.collection_id, embedded)
            # A list, not any(): every event is recorded, not only up to the first new one.
            if any([op.record_embedded(e.work_id, e.chunk_count) for e in embedded]):
                self._settle(op)

    def _record_precisions(
        self, collection_id: UUID, embedded: list[events.ChunksEmbedded]
    ) -> None:
        """The collection records each precision new to a generation (rare: the read
        model answers for the rest, so the collection is not loaded for every batch)."""
        known = self.app.read_model.collections.get(collection_id)
        made = {(e.generation, e.precision) for e in embedded}
        if known is not None:
            made = {(g, p) for g, p in made if p not in known.precisions.get(g, [])}
        if not made:
            return
        collection: Collection = self.app.repository.get(collection_id)
        for generation, precision in sorted(made):
            collection.record_precision(generation, precision)
        if collection.pending_events:
            self.app.commit(collection)

    def on_embedding_failed(self, e: events.EmbeddingFailed) -> None:
        op = self._operation(e.operation_id)
        if op is not None and op.record_failure(
            e.work_id, str(e.document_id), e.reason, e.chunk_count
        ):
            self._settle(op)

    def _settle(self, op: Operation) -> None:
        """Finish the operation when all its work is accounted for, else mark progress.

        An operation cancelled or failed before its work was all in keeps counting what
        lands afterwards (work already queued is kept) and settles the collection's
        counts once it is all in, so they never drift from what the store holds.
        """
        self._moved(op.id)
        if not op.all_work_done:
            if not op.is_terminal:
                self.dirty.add(op.id)
            self.app.commit(op)
            return
        collection: Collection = self.app.repository.get(op.collection_id)
        reindex = op.operation_type is OperationType.REINDEX
        if op.is_terminal:
            delta = op.settle()
            if not reindex:  # a reindex's work went to its staging generation, now gone
                collection.apply_counts(delta)
        elif reindex:
            # Not done yet: validated and activated by the reindex flow (reindex_flow.py).
            op.reach_checkpoint("validation", "comparing the new generation with the old")
            self.dirty.discard(op.id)
            self.app.commit(op)
            return
        else:
            op.complete()
            collection.operation_finished(op.id, OperationStatus.COMPLETED, counts=op.count_delta())
        self.dirty.discard(op.id)
        self.app.commit(op, collection)

    def flush_progress(self) -> None:
        """Publish one progress event per changed operation (coalesced, SPEC §3), once
        the read model holds whatever a save that raised may have stored."""
        self.app.read_model.reconcile()
        for operation_id in list(self.dirty):
            self.dirty.discard(operation_id)
            op = self._operation(operation_id)
            if op is not None:
                op.report_progress()
                self.app.commit(op)

    def expire(self, timeout_seconds: float, now: datetime | None = None) -> list[UUID]:
        """Fail operations that ran past ``OPERATION_TIMEOUT_SECONDS``."""
        now = now or datetime.now(UTC)
        expired = []
        for view in self.app.read_model.active_operations():
            if now - view.requested_at < timedelta(seconds=timeout_seconds):
                continue
            reason = f"timed out after {timeout_seconds:g} s (OPERATION_TIMEOUT_SECONDS)"
            if self.fail(view.id, reason):
                expired.append(view.id)
        return expired

    def fail(self, operation_id: UUID, reason: str) -> bool:
        """Fail a running operation with ``reason``; False if it had ended already."""
        op = self._operation(operation_id)
        if op is None or op.is_terminal:
            return False
        self.app.commit(*self.app.end_operation(op, OperationStatus.FAILED, reason))
        return True

    def advance_queues(self) -> int:
        """Start the queue's head of every free collection. Each operation's end starts
        the next in its own transaction (``CollectionsApplication.commit``); this sweep,
        at start and then periodically, covers a log written otherwise. Idempotent: a busy
        collection or an empty queue is left alone. Returns the collections advanced."""
        advanced = 0
        for view in list(self.app.read_model.collections.values()):
            if view.deleted or view.active_operation_id is not None or not view.queue:
                continue
            collection: Collection = self.app.repository.get(view.id)
            self.app.commit(collection)
            advanced += 1
        return advanced

    def stalled(self, stall_seconds: float, now: float | None = None) -> list[Stall]:
        """Running operations with nothing folded in for ``stall_seconds``: their work or
        its events may be lost. Each is reported once per stall time, not at every look."""
        now = time.monotonic() if now is None else now
        found = []
        running = set()
        for view in self.app.read_model.active_operations():
            running.add(view.id)
            op = self._operation(view.id)
            if op is None or op.operation_type not in SCANNED or op.all_work_done:
                continue  # a reindex being validated has all its work (reindex_flow)
            if now - self.moved.setdefault(op.id, now) < stall_seconds:
                continue
            self.moved[op.id] = now
            found.append(Stall(op.id, op.collection_id, sorted(op.counted), op.model_name))
        for ended in set(self.moved) - running:
            del self.moved[ended]
        return found
