"""The sync of path sources as a part of the ingest service: built in its composition
root (``__main__``) beside the service, started and closed with it."""

from __future__ import annotations

import asyncio
import contextlib

from semantik_contracts.sync import SYNC_LEASES_BUCKET
from semantik_runtime.bus import Bus

from ..leases import Leases, replica_name
from ..sources.roots import SourceRoots
from .coordinator import SyncCoordinator
from .freshness import Freshness


class SyncService:
    def __init__(self, coordinator: SyncCoordinator) -> None:
        self.coordinator = coordinator
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watch_stop: asyncio.Future[None] | None = None

    async def start(self, stop: asyncio.Event) -> None:
        async def until_stopped() -> None:
            await stop.wait()
            self._stop.set()

        self._watch_stop = asyncio.ensure_future(until_stopped())
        self._task = asyncio.ensure_future(self.coordinator.run(self._stop))

    async def close(self) -> None:
        """Stop the watchers and give the leases back (another replica takes over)."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        if self._watch_stop is not None:
            self._watch_stop.cancel()


def build_sync_service(
    bus: Bus,
    roots: SourceRoots,
    *,
    lease_seconds: float = 10.0,
    refresh_seconds: float = 2.0,
    owner: str | None = None,
) -> SyncService:
    """One replica's sync: its leases (named after this host and process), watchers and
    schedules. ``refresh_seconds`` must be well under ``lease_seconds``: a lease not
    renewed within ``lease_seconds`` is another replica's to take."""
    leases = Leases(
        bus,
        owner or replica_name(),
        lease_seconds,
        bucket=SYNC_LEASES_BUCKET,
        prefix="source",
        description="Which ingest replica follows each synced source",
    )
    coordinator = SyncCoordinator(
        bus, roots, leases, Freshness(bus), refresh_seconds=refresh_seconds
    )
    return SyncService(coordinator)
