"""The operation process manager: folds ingest's and the embedders' events into the
operations they belong to, and finishes each operation exactly once (SPEC §3).

Every handler is idempotent: redelivered events are recognised by a key the operation
records (the work item's id), so counts are never doubled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from semantik_contracts import events

from .application import CollectionsApplication
from .domain import Collection
from .operation import Operation


class OperationProcess:
    def __init__(self, app: CollectionsApplication) -> None:
        self.app = app
        self.dirty: set[UUID] = set()

    def _operation(self, operation_id: UUID) -> Operation | None:
        if operation_id not in self.app.read_model.operations:
            return None
        op: Operation = self.app.repository.get(operation_id)
        return None if op.is_terminal else op

    def on_scan_started(self, e: events.ScanStarted) -> None:
        op = self._operation(e.operation_id)
        if op is None or op.started_at is not None:
            return
        op.start()
        collection: Collection = self.app.repository.get(op.collection_id)
        collection.operation_started(op.operation_type)
        self.app.commit(op, collection)

    def on_document_failed(self, e: events.DocumentFailed) -> None:
        op = self._operation(e.operation_id)
        if op is not None and op.record_failure(f"failed:{e.path}", e.path, e.reason):
            self._settle(op)

    def on_scan_completed(self, e: events.ScanCompleted) -> None:
        op = self._operation(e.operation_id)
        if op is not None and op.scan_stats is None:
            op.record_scan(e.stats.model_dump())
            self._settle(op)

    def on_chunks_embedded(self, e: events.ChunksEmbedded) -> None:
        op = self._operation(e.operation_id)
        # Keyed by work id: a large document travels as several work items (parts).
        if op is not None and op.record_embedded(e.work_id, e.chunk_count):
            self._settle(op)

    def on_embedding_failed(self, e: events.EmbeddingFailed) -> None:
        op = self._operation(e.operation_id)
        if op is not None and op.record_failure(
            e.work_id, str(e.document_id), e.reason, e.chunk_count
        ):
            self._settle(op)

    def _settle(self, op: Operation) -> None:
        """Finish the operation when all its work is accounted for, else mark progress."""
        if not op.all_work_done:
            self.dirty.add(op.id)
            self.app.commit(op)
            return
        stats = op.complete()
        collection: Collection = self.app.repository.get(op.collection_id)
        embedding_failures = op.failed_documents - int(stats.get("failed", 0))
        collection.operation_finished(
            op.id,
            succeeded=True,
            documents_delta=int(stats.get("new_documents", 0))
            - int(stats.get("removed", 0))
            - embedding_failures,
            chunks_delta=op.embedded_chunks - int(stats.get("removed_chunks", 0)),
        )
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
            if op is None:
                continue
            op.fail(f"timed out after {timeout_seconds:.0f} s without finishing")
            collection: Collection = self.app.repository.get(op.collection_id)
            collection.operation_finished(op.id, succeeded=False, reason="last operation timed out")
            self.app.commit(op, collection)
            expired.append(op.id)
        return expired
