"""A harness for the ingest service on a private NATS server and SQLite in a tmp dir.

The test plays the collections service (it publishes SourceAdded and OperationRequested
envelopes, the request describing its sources as collections does) and the embedder (it
takes the work and answers DeleteDocumentPoints).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

from ingest_service.app import IngestService
from ingest_service.application import IngestApplication
from ingest_service.bootstrap import build_ingest_service
from ingest_service.extraction.pool import ExtractionPool
from ingest_service.sources.roots import SourceRoots
from ingest_service.sources.uploaded import UploadedFiles
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from semantik_contracts import EventEnvelope, OperationType, SourceKind
from semantik_contracts.events import (
    AnyEvent,
    OperationRequested,
    OperationSource,
    SourceAdded,
    SourceColumnsChanged,
)
from semantik_contracts.search import DEFAULT_MODEL
from semantik_contracts.subjects import (
    EVENTS_STREAM,
    VECTORS,
    WORK_STREAM,
    command_subject,
    embed_work_subject,
    model_slug,
)
from semantik_contracts.work import DeleteDocumentPoints, Done, EmbedChunks
from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env

WORK_SUBJECT = embed_work_subject(model_slug(DEFAULT_MODEL.name))


class Harness:
    def __init__(self, bus: Bus, nats_url: str, tmp_path: Path, pool: ExtractionPool) -> None:
        self.bus = bus
        self.pool = pool
        self.nats_url = nats_url
        self.root = tmp_path / "sources"
        self.root.mkdir()
        self.data_dir = tmp_path / "data"
        self.collection_id = uuid4()
        self.deleted: list[DeleteDocumentPoints] = []
        self.service: IngestService | None = None
        #: The sources as the collections service knows them, described in requests.
        self.sources: dict[UUID, OperationSource] = {}

    async def start(self, max_pending: int = 2000, max_file_bytes: int = 1 << 20) -> IngestService:
        self.service_bus = await Bus.connect(self.nats_url, "ingest")
        self.app = IngestApplication(env=event_store_env("ingest", None, self.data_dir))
        self.stop = asyncio.Event()
        self.service = build_ingest_service(
            self.app,
            self.service_bus,
            SourceRoots([self.root]),
            self.pool,
            UploadedFiles(self.service_bus, self.data_dir / "uploads"),
            max_file_bytes=max_file_bytes,
            embed_max_pending=max_pending,
        )
        await self.service.start(self.stop)
        return self.service

    async def shut_down(self) -> None:
        """Stop the service wherever it is (a crash, as far as its scans can tell)."""
        if self.service is not None:
            self.stop.set()
            await self.service.close()
            await self.service_bus.close()
            self.app.close()
            self.service = None

    async def serve_deletions(self) -> None:
        async def delete(command: DeleteDocumentPoints) -> Done:
            self.deleted.append(command)
            return Done()

        subject = command_subject(VECTORS, "DeleteDocumentPoints")
        await self.bus.serve(subject, DeleteDocumentPoints, delete, queue=VECTORS)

    async def publish(
        self, aggregate: str, aggregate_id: UUID, event: AnyEvent, version: int = 1
    ) -> None:
        envelope = EventEnvelope(
            event_id=f"{aggregate_id}:{version}",
            aggregate_type=aggregate,
            aggregate_id=aggregate_id,
            version=version,
            occurred_at=datetime.now(UTC),
            event=event,
        )
        await self.bus.publish_event(envelope)

    async def add_source(
        self,
        path: Path,
        kind: SourceKind = SourceKind.DIRECTORY,
        text_columns: list[str] | None = None,
        context_columns: list[str] | None = None,
        id_column: str | None = None,
    ) -> UUID:
        source_id = uuid4()
        event = SourceAdded(
            collection_id=self.collection_id,
            source_id=source_id,
            kind=kind,
            path=str(path),
            text_columns=text_columns or [],
            context_columns=context_columns or [],
            id_column=id_column,
        )
        await self.publish("source", source_id, event)
        self.sources[source_id] = OperationSource.model_validate(event.model_dump())
        return source_id

    async def change_columns(
        self,
        source_id: UUID,
        version: int,
        text_columns: list[str],
        context_columns: list[str] | None = None,
        id_column: str | None = None,
    ) -> None:
        event = SourceColumnsChanged(
            collection_id=self.collection_id,
            source_id=source_id,
            text_columns=text_columns,
            context_columns=context_columns or [],
            id_column=id_column,
        )
        await self.publish("source", source_id, event, version)
        self.sources[source_id] = self.sources[source_id].model_copy(
            update={
                "text_columns": text_columns,
                "context_columns": context_columns or [],
                "id_column": id_column,
            }
        )

    async def request(
        self,
        source_ids: list[UUID],
        operation_type: OperationType = OperationType.INDEX,
        *,
        generation: int = 1,
        chunk_size: int = 128,
        chunk_overlap: int = 12,
    ) -> UUID:
        operation_id = uuid4()
        every = operation_type is OperationType.REMOVE_SOURCE  # the others may hold copies
        described = [s for sid, s in self.sources.items() if every or sid in source_ids]
        event = OperationRequested(
            collection_id=self.collection_id,
            operation_id=operation_id,
            operation_type=operation_type,
            requested_by="u1",
            source_ids=source_ids,
            generation=generation,
            model_name=DEFAULT_MODEL.name,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            sources=described,
        )
        await self.publish("operation", operation_id, event)
        return operation_id

    async def events(self) -> list[EventEnvelope]:
        """Every event of the collection in the stream, in stream order."""
        sub = await self.bus.js.pull_subscribe(
            f"semantik.evt.{self.collection_id}.>",
            stream=EVENTS_STREAM,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, inactive_threshold=5
            ),
        )
        found: list[EventEnvelope] = []
        try:
            while True:
                try:
                    messages = await sub.fetch(500, timeout=0.3)
                except (NatsTimeoutError, TimeoutError):
                    return found
                found.extend(EventEnvelope.model_validate_json(m.data) for m in messages)
        finally:
            await sub.unsubscribe()

    async def scan_events(self, operation_id: UUID, timeout: float = 30.0) -> list[EventEnvelope]:
        """Ingest's events of the operation once its ScanCompleted is in the stream."""
        deadline = time.monotonic() + timeout
        while True:
            mine = [
                e
                for e in await self.events()
                if e.aggregate_type in ("scan", "document")
                and getattr(e.event, "operation_id", None) == operation_id
            ]
            if any(e.type == "ScanCompleted" for e in mine):
                return mine
            assert time.monotonic() < deadline, f"no ScanCompleted for {operation_id}"
            await asyncio.sleep(0.1)

    async def take_work(self, limit: int = 1000) -> list[tuple[str, EmbedChunks]]:
        """Take (and ack, as an embedder does) the work now waiting; with Nats-Msg-Id."""
        sub = await self.bus.js.pull_subscribe(
            WORK_SUBJECT, durable="test-embedder", stream=WORK_STREAM
        )
        taken: list[tuple[str, EmbedChunks]] = []
        try:
            while len(taken) < limit:
                try:
                    messages = await sub.fetch(min(100, limit - len(taken)), timeout=0.5)
                except (NatsTimeoutError, TimeoutError):
                    break
                for msg in messages:
                    msg_id = (msg.headers or {})["Nats-Msg-Id"]
                    taken.append((msg_id, EmbedChunks.model_validate_json(msg.data)))
                    await msg.ack_sync()
        finally:
            await sub.unsubscribe()
        return taken

    async def waiting_work(self) -> int:
        info = await self.bus.js.stream_info(WORK_STREAM, subjects_filter=WORK_SUBJECT)
        return (info.state.subjects or {}).get(WORK_SUBJECT, 0)
