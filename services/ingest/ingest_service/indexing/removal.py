"""Removing documents: their points deleted by the embedder, then retired here."""

from __future__ import annotations

import asyncio

from semantik_contracts import ErrorCode, RpcFailure
from semantik_contracts.subjects import VECTORS, command_subject
from semantik_contracts.work import DeleteDocumentPoints, Done
from semantik_runtime.bus import Bus

from ..application import IngestApplication
from ..projections import DocumentRecord
from ..scan_aggregate import Scan
from .unit_indexer import Call

_DELETE_BATCH = 256


class DocumentRemoval:
    def __init__(
        self, app: IngestApplication, bus: Bus, *, call: Call, delete_timeout: float = 60.0
    ) -> None:
        self.app = app
        self.bus = bus
        self.call = call
        self.delete_timeout = delete_timeout

    async def remove(self, scan: Scan, documents: list[DocumentRecord]) -> None:
        """Delete the documents' points (the embedder is the only writer), then retire them."""
        for start in range(0, len(documents), _DELETE_BATCH):
            batch = documents[start : start + _DELETE_BATCH]
            command = DeleteDocumentPoints(
                collection_id=scan.collection_id,
                generation=scan.generation,
                document_ids=[doc.id for doc in batch],
            )
            try:
                await self._request_deletion(command)
            except RpcFailure as exc:
                reason = f"its vectors could not be deleted: {exc.error.message}"
                for doc in batch:  # still registered: the next scan tries again
                    await self.call(
                        self.app.note_failure, scan, doc.source_id, doc.path, reason, "removal"
                    )
                continue
            await self.call(self.app.remove, scan.operation_id, [doc.id for doc in batch])

    async def _request_deletion(self, command: DeleteDocumentPoints) -> None:
        subject = command_subject(VECTORS, "DeleteDocumentPoints")
        for attempt in range(3):
            try:
                await self.bus.request(subject, command, Done, timeout=self.delete_timeout)
                return
            except RpcFailure as exc:
                retry = exc.error.code in (ErrorCode.UNAVAILABLE, ErrorCode.TIMEOUT)
                if not retry or attempt == 2:
                    raise
                await asyncio.sleep(1.0 + attempt)
