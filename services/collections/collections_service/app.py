"""Bus handlers of the collections service: thin, they decode and call the application.

The application is synchronous (eventsourcing); it runs on one writer thread so that
commands and the process manager never race on an aggregate and the loop never blocks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel
from semantik_contracts import ErrorCode, RpcFailure, commands
from semantik_contracts.commands import ResumeWork, ValidatedSource, ValidateSource, WorkResumed
from semantik_contracts.subjects import (
    COLLECTIONS,
    INGEST,
    command_subject,
    embed_work_subject,
    event_filter,
    is_upload,
    model_slug,
)
from semantik_contracts.views import SourceList
from semantik_runtime.bus import Bus
from semantik_runtime.consumer import follow_event_batches, follow_events
from semantik_runtime.errors import CommandError
from semantik_runtime.writer_thread import WriterThread

from .application import CollectionsApplication
from .column_sets import column_set_handlers
from .operation_process import OperationProcess, Stall, resume_parts
from .reindex_flow import TICK_SECONDS, ReindexFlow
from .retry import retry_handlers
from .source_sync import source_sync_handlers

log = logging.getLogger(__name__)
T = TypeVar("T")


class CollectionsService:
    """Serves the commands and follows the events; built by ``bootstrap.py``."""

    def __init__(
        self,
        app: CollectionsApplication,
        bus: Bus,
        *,
        writer: WriterThread,
        process: OperationProcess,
        reindex: ReindexFlow,
        operation_timeout_seconds: float,
        progress_interval_seconds: float = 1.0,
        operation_stall_seconds: float = 60.0,
        embedder_wait_seconds: float = 60.0,
    ) -> None:
        self.app = app
        self.bus = bus
        self.process = process
        self.writer = writer
        self.relay = writer.relay
        self.timeout = operation_timeout_seconds
        self.progress_interval = progress_interval_seconds
        self.stall_seconds = operation_stall_seconds
        self.embedder_wait = embedder_wait_seconds
        #: When each stalled operation was first seen with no embedder for its model.
        self._unserved_since: dict[UUID, float] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.reindex = reindex

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.writer.call(fn, *args)

    async def start(self, stop: asyncio.Event) -> None:
        self.writer.attach(self.app)
        await self.bus.ensure_streams()
        await self._serve_commands()
        follow: list[tuple[str, Callable[[Any], None]]] = [
            ("ScanStarted", self.process.on_scan_started),
            ("ScanProgressed", self.process.on_scan_progressed),
            ("ScanCompleted", self.process.on_scan_completed),
            ("DocumentFailed", self.process.on_document_failed),
            ("EmbeddingFailed", self.process.on_embedding_failed),
        ]
        for event_type, handler in follow:
            self._spawn(
                follow_events(
                    self.bus,
                    f"collections-{event_type}",
                    event_filter(event_type=event_type),
                    self.writer.on_event(handler),
                    stop,
                )
            )
        # One transaction per fetched batch: an index sends one event per document.
        self._spawn(
            follow_event_batches(
                self.bus,
                "collections-ChunksEmbedded",
                event_filter(event_type="ChunksEmbedded"),
                self.writer.on_events(self.process.on_chunks_embedded_many),
                stop,
            )
        )
        self._spawn(self.relay.run(stop))
        await self.call(self.process.advance_queues)
        self._spawn(self._every(5.0, lambda: self.call(self.process.advance_queues), stop))
        flush = self.process.flush_progress
        self._spawn(self._every(self.progress_interval, lambda: self.call(flush), stop))
        self._spawn(self._every(5.0, lambda: self.call(self.process.expire, self.timeout), stop))
        self._spawn(self._every(min(5.0, self.stall_seconds / 2), self._resume_stalled, stop))
        self._spawn(self._every(TICK_SECONDS, self.reindex.tick, stop))
        # What other replicas saved (one read of the log's tail; nothing when alone).
        catch_up = self.app.read_model.catch_up
        self._spawn(self._every(5.0, lambda: self.call(catch_up), stop))

    def _spawn(self, coro: Awaitable[None]) -> None:
        self.tasks.append(asyncio.ensure_future(coro))

    async def _every(
        self, seconds: float, tick: Callable[[], Awaitable[object]], stop: asyncio.Event
    ) -> None:
        """Run ``tick`` every ``seconds`` until stopped; a failing tick is logged and
        tried again at the next one."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), seconds)
            except TimeoutError:
                try:
                    await tick()
                except Exception:
                    log.exception("periodic %s failed; trying again", tick)

    async def _resume_stalled(self) -> None:
        """The watchdog: operations that made no progress for the stall time are resumed."""
        stalls = await self.call(self.process.stalled, self.stall_seconds)
        for stall in stalls:
            if not await self._failed_unserved(stall):
                await self.resume(stall)
        stalled = {stall.operation_id for stall in stalls}
        for operation_id in set(self._unserved_since) - stalled:
            if await self.call(self._ended, operation_id):
                del self._unserved_since[operation_id]

    def _ended(self, operation_id: UUID) -> bool:
        view = self.app.read_model.operations.get(operation_id)
        return view is None or view.is_terminal

    async def _failed_unserved(self, stall: Stall) -> bool:
        """Fail a stalled operation whose model no embedder serves, once that has lasted
        ``embedder_wait`` seconds (an embedder may be starting: a new model's is loaded
        by the vector host when a collection first uses it). Without this its work waits
        in a queue nobody reads until the operation times out, hours later. The model is
        served when a consumer of its work subject exists: an embedder of it creates one
        at its start and it outlives the embedder (scaled to none, restarted)."""
        served = await self.bus.models_served()
        if served is None or not stall.model or model_slug(stall.model) in served:
            self._unserved_since.pop(stall.operation_id, None)
            return False
        now = time.monotonic()
        if now - self._unserved_since.setdefault(stall.operation_id, now) < self.embedder_wait:
            return False
        reason = (
            f"no embedder serves model {stall.model}: nothing reads its work queue "
            f"({embed_work_subject(model_slug(stall.model))}); start an embedder with "
            f"SEMANTIK_EMBED_MODEL={stall.model}, then run the operation again"
        )
        log.warning("operation %s: %s", stall.operation_id, reason)
        self._unserved_since.pop(stall.operation_id, None)
        return await self.call(self.process.fail, stall.operation_id, reason)

    async def resume(self, stall: Stall) -> None:
        """Ask ingest to publish the stalled operation's lost work again.

        This relay checks first that its own events are still in the stream: ingest
        learns of the operation and its sources from them. When ingest has no scan of
        the operation, its ``OperationRequested`` never reached ingest, so the whole log
        is checked against the stream (``OutboxRelay.replay``), and what is missing is
        published again. What the stream's retention removed on purpose is not: a
        stalled operation is younger than its timeout (6 h by default), far within the
        shortest age limit the stream may have (a day, ``SEMANTIK_EVENTS_MAX_AGE_DAYS``),
        so its own events are never among them.
        """
        log.warning("operation %s made no progress; resuming it", stall.operation_id)
        await self.relay.verify()
        attempt = f"resume-{time.time_ns()}"
        for prefix, done in resume_parts(stall):
            command = ResumeWork(
                operation_id=stall.operation_id,
                collection_id=stall.collection_id,
                done=done,
                documents_prefix=prefix,
                attempt=attempt,
            )
            try:
                resumed = await self.bus.request(
                    command_subject(INGEST, "ResumeWork"), command, WorkResumed, timeout=120
                )
            except RpcFailure as exc:
                log.warning("resuming %s: %s", stall.operation_id, exc.error.message)
                if exc.error.code is ErrorCode.NOT_FOUND:
                    self.relay.replay()
                return
            log.info("operation %s resumed: %s", stall.operation_id, resumed.model_dump())

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        try:  # an orderly stop leaves no tail for the next start to fold
            await self.call(self.app.read_model.checkpoint)
        except Exception:
            log.warning("the read model was not written at the stop", exc_info=True)
        self.writer.shutdown()

    async def _serve_commands(self) -> None:
        app = self.app
        queries = app.queries

        def fresh(fn: Callable[[Any], T], cmd: Any) -> T:
            """Answer from the read model as of the log now: another replica may have
            saved since this one last folded (read your writes through any replica;
            one read of the log's tail, which is empty when this replica is alone)."""
            app.read_model.catch_up()
            return fn(cmd)

        def direct(fn: Callable[[Any], BaseModel]) -> Callable[[Any], Awaitable[BaseModel]]:
            async def handle(cmd: Any) -> BaseModel:
                return await self.call(fresh, fn, cmd)

            return handle

        async def list_sources(q: commands.ListSources) -> SourceList:
            return SourceList(items=await self.call(fresh, queries.list_sources, q))

        async def add_source(cmd: commands.AddSource) -> BaseModel:
            await self.call(fresh, app.check_new_source, cmd)
            # Ingest owns the allowed roots: it resolves the path or says why not.
            try:
                checked = await self.bus.request(
                    command_subject(INGEST, "ValidateSource"),
                    ValidateSource(
                        path=cmd.path,
                        text_columns=cmd.text_columns,
                        context_columns=cmd.context_columns,
                        id_column=cmd.id_column,
                        roots=None if is_upload(cmd.path) else cmd.roots,
                    ),
                    ValidatedSource,
                )
            except RpcFailure as exc:
                if exc.error.code in (ErrorCode.INVALID, ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND):
                    refused = CommandError(exc.error.code, exc.error.message)
                    await self.call(app.record_rejection, cmd, refused)
                raise
            return await self.call(app.add_source, cmd, checked.path, checked.kind.value)

        table: list[tuple[type[BaseModel], Callable[[Any], Awaitable[BaseModel]]]] = [
            (commands.CreateCollection, direct(app.create_collection)),
            (commands.UpdateCollection, direct(app.update_collection)),
            (commands.DeleteCollection, direct(app.delete_collection)),
            (commands.AddSource, add_source),
            (commands.ChangeSourceColumns, direct(app.change_source_columns)),
            (commands.RemoveSource, direct(app.remove_source)),
            (commands.StartOperation, direct(app.start_operation)),
            (commands.CancelOperation, direct(app.cancel_operation)),
            (commands.GrantAccess, direct(app.grant_access)),
            (commands.RevokeAccess, direct(app.revoke_access)),
            (commands.GetAccess, direct(queries.get_access)),
            (commands.GetCollection, direct(queries.get_collection)),
            (commands.GetCollections, direct(queries.get_collections)),
            (commands.ListCollections, direct(queries.list_collections)),
            (commands.GetOperation, direct(queries.get_operation)),
            (commands.ListOperations, direct(queries.list_operations)),
            (commands.ListSources, list_sources),
            (commands.GetAudit, direct(queries.get_audit)),
            (commands.GetUsage, direct(queries.get_usage)),
            (commands.RebuildProjections, direct(queries.rebuild)),
            *source_sync_handlers(app, direct),
            *column_set_handlers(app, direct),
            *retry_handlers(app, direct),
        ]
        for request_type, handler in table:
            await self.bus.serve(
                command_subject(COLLECTIONS, request_type.__name__),
                request_type,
                handler,
                queue=COLLECTIONS,
            )
