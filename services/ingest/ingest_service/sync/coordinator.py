"""Keeps each synced source followed by exactly one ingest replica.

Every ``refresh_seconds`` the coordinator asks the collections service which sources
are synced (``ListSyncedSources``), renews or takes their leases (``leases.py``),
starts a watcher for each watched source it holds and stops the others', and asks for
an index of each held source whose schedule came due (``SyncSource``, trigger
``schedule``). A watcher's batch of changes asks for one (trigger ``watch``); the
collections service reuses the source's queued index if it has one, so a burst of
changes during a running operation makes one more operation at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from semantik_contracts import RpcFailure
from semantik_contracts.commands import ListSyncedSources, ReportSyncStatus, SyncSource
from semantik_contracts.subjects import COLLECTIONS, command_subject, is_upload
from semantik_contracts.sync import OperationTrigger, SyncStatus
from semantik_contracts.views import SourceAndOperation, SourceList, SourceView
from semantik_runtime.bus import Bus

from ..leases import Leases
from ..sources.roots import SourceRoots
from .freshness import Freshness
from .watcher import Changed, SourceWatcher, folder_problem

log = logging.getLogger(__name__)

#: How long the synced sources may go unlisted before it is said as a WARNING: a
#: replica's first listings at start come before the collections service answers.
UNLISTED_PATIENCE = 30.0


class SyncCoordinator:
    def __init__(
        self,
        bus: Bus,
        roots: SourceRoots,
        leases: Leases,
        freshness: Freshness,
        *,
        refresh_seconds: float = 2.0,
        quiet_ms: int = 500,
        max_ms: int = 2000,
    ) -> None:
        self.bus = bus
        self.roots = roots
        self.leases = leases
        self.freshness = freshness
        self.refresh = refresh_seconds
        self.quiet_ms = quiet_ms
        self.max_ms = max_ms
        #: The synced sources this replica holds, as last listed.
        self.sources: dict[UUID, SourceView] = {}
        self.watchers: dict[UUID, tuple[SourceWatcher, asyncio.Task[None]]] = {}
        #: When the listings began to fail (``time.monotonic``), while they do.
        self._unlisted_since: float | None = None

    async def run(self, stop: asyncio.Event) -> None:
        await self.freshness.start()
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception:
                    log.exception("sync refresh failed; trying again")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.refresh)
        finally:
            await self.close()

    async def tick(self, now: datetime | None = None) -> None:
        """One refresh: leases, watchers and due schedules. ``now``: the schedule's
        clock (tests advance it)."""
        try:
            listed = await self.bus.request(
                command_subject(COLLECTIONS, "ListSyncedSources"), ListSyncedSources(), SourceList
            )
        except (RpcFailure, TimeoutError) as exc:
            self._unlisted_since = self._unlisted_since or time.monotonic()
            unlisted = time.monotonic() - self._unlisted_since
            # The collections service starts beside this one: a listing or two before it
            # answers is a start, not an outage.
            log.log(
                logging.WARNING if unlisted >= UNLISTED_PATIENCE else logging.INFO,
                "synced sources not listed for %.0f s (%s); keeping the leases held",
                unlisted,
                exc,
            )
            for source_id in list(self.leases.held):
                if not await self.leases.hold(source_id):
                    await self._drop(source_id)
            return
        if self._unlisted_since is not None:
            log.info("synced sources listed again")
            self._unlisted_since = None
        wanted = {s.id: s for s in listed.items if not is_upload(s.path)}
        for source_id in set(self.sources) - set(wanted):
            await self._drop(source_id)
        for source in wanted.values():
            if not await self.leases.hold(source.id):
                await self._stop_watcher(source.id)
                self.sources.pop(source.id, None)
                continue
            self.sources[source.id] = source
            await self._follow(source)
            due = source.next_sync_at
            if due is not None and due <= (now or datetime.now(UTC)):
                await self.sync(source.id, OperationTrigger.SCHEDULE, [due.timestamp()])

    async def _follow(self, source: SourceView) -> None:
        running = self.watchers.get(source.id)
        if running is not None and (not source.sync.watch or running[0].path != Path(source.path)):
            await self._stop_watcher(source.id)
            running = None
        if source.sync.watch:
            if running is None:
                watcher = SourceWatcher(
                    source.id,
                    Path(source.path),
                    self.roots,
                    self._changed,
                    self.report,
                    quiet_ms=self.quiet_ms,
                    max_ms=self.max_ms,
                )
                self.watchers[source.id] = (watcher, asyncio.ensure_future(watcher.run()))
            elif running[0].told and running[0].told != (source.sync_status, source.sync_reason):
                await self.report(source.id, *running[0].told)  # the settings changed meanwhile
            return
        problem = folder_problem(Path(source.path))  # a schedule alone
        state = (SyncStatus.STOPPED if problem else SyncStatus.ACTIVE, problem)
        if state != (source.sync_status, source.sync_reason):
            await self.report(source.id, *state)

    async def _changed(self, changed: Changed) -> None:
        await self.sync(changed.source_id, OperationTrigger.WATCH, changed.written_at)

    async def sync(self, source_id: UUID, trigger: OperationTrigger, written: list[float]) -> None:
        """Ask for an index of the source alone (or join its queued one)."""
        source = self.sources.get(source_id)
        if source is None:
            return
        command = SyncSource(
            collection_id=source.collection_id, source_id=source_id, trigger=trigger
        )
        try:
            reply = await self.bus.request(
                command_subject(COLLECTIONS, "SyncSource"), command, SourceAndOperation
            )
        except RpcFailure as exc:
            log.info("source %s not synced: %s", source_id, exc.error.message)
            return
        self.sources[source_id] = reply.source
        if written:
            self.freshness.expect(str(reply.operation.id), trigger.value, written)

    async def report(self, source_id: UUID, status: SyncStatus, reason: str) -> None:
        source = self.sources.get(source_id)
        if source is None:
            return
        command = ReportSyncStatus(
            collection_id=source.collection_id, source_id=source_id, status=status, reason=reason
        )
        try:
            self.sources[source_id] = await self.bus.request(
                command_subject(COLLECTIONS, "ReportSyncStatus"), command, SourceView
            )
        except RpcFailure as exc:
            log.info("sync state of source %s not recorded: %s", source_id, exc.error.message)

    async def _stop_watcher(self, source_id: UUID) -> None:
        running = self.watchers.pop(source_id, None)
        if running is not None:
            running[0].stop.set()
            with contextlib.suppress(Exception):
                await running[1]

    async def _drop(self, source_id: UUID) -> None:
        """The source is no longer synced (or removed): stop following it."""
        await self._stop_watcher(source_id)
        self.sources.pop(source_id, None)
        await self.leases.release(source_id)

    async def close(self) -> None:
        """Stop every watcher and give the leases back, for another replica to take."""
        for source_id in list(self.watchers):
            await self._stop_watcher(source_id)
        self.sources.clear()
        await self.leases.release_all()
        await self.freshness.close()
