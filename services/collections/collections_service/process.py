"""The operation process manager: folds ingest's and the embedders' events into the
operations they belong to, and finishes each operation exactly once (SPEC §3).

Every handler is idempotent: redelivered events are recognised by a key the operation
records (the work item's id), so counts are never doubled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from semantik_contracts import OperationStatus, OperationType, events

from .application import CollectionsApplication
from .domain import Collection
from .operation import SCAN_FAILURE, Operation


class OperationProcess:
    def __init__(self, app: CollectionsApplication) -> None:
        self.app = app
        self.dirty: set[UUID] = set()

    def _operation(self, operation_id: UUID) -> Operation | None:
        if operation_id not in self.app.read_model.operations:
            return None
        op: Operation = self.app.repository.get(operation_id)
        return op if op.counting else None

    def on_scan_started(self, e: events.ScanStarted) -> None:
        op = self._operation(e.operation_id)
        if op is None or op.is_terminal or op.started_at is not None:
            return
        op.start()
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
            # A list, not any(): every event is recorded, not only up to the first new one.
            if any([op.record_embedded(e.work_id, e.chunk_count) for e in embedded]):
                self._settle(op)

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
        """Publish one progress event per changed operation (coalesced, SPEC §3)."""
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
            op = self._operation(view.id)
            if op is None or op.is_terminal:
                continue
            reason = f"timed out after {timeout_seconds:g} s (OPERATION_TIMEOUT_SECONDS)"
            self.app.commit(*self.app.end_operation(op, OperationStatus.FAILED, reason))
            expired.append(op.id)
        return expired
