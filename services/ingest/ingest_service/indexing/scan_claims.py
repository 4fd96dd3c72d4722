"""Which ingest replica runs each scan: a lease ``scan.<operation_id>`` (``leases.py``)
in the bucket ``SEMANTIK_SCAN_LEASES``.

A replica takes the lease before it runs a scan, new or resumed, and does not run one
whose lease it cannot take; it renews the lease every ``ttl / 3`` while the scan runs
and gives it back when the scan ends. A replica that dies stops renewing: after the
ttl the lease lapses and another replica, looking at the open scans every ``ttl / 2``
(``ScanTasks.take_over``), takes it and resumes the scan where the event store says
it was. A renewal refused (another replica took the lease: this one was cut off longer
than the ttl) stops the scan at its next file, without completing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from uuid import UUID

from ..leases import Leases

log = logging.getLogger(__name__)


class ScanClaims:
    def __init__(self, leases: Leases) -> None:
        self.leases = leases

    @property
    def ttl(self) -> float:
        """The leases' ttl (the bucket's own once it was looked at)."""
        return self.leases.ttl

    async def take(self, operation_id: UUID) -> bool:
        """Take the scan's lease; False when another replica holds it (or the bus could
        not be asked: the next look at the open scans tries again)."""
        try:
            return await self.leases.hold(operation_id)
        except Exception as exc:
            log.warning("lease of scan %s not taken: %s", operation_id, exc)
            return False

    async def keep(self, operation_id: UUID, lost: Callable[[], None]) -> None:
        """Renew the lease every ``ttl / 3`` until cancelled; ``lost`` once another
        replica holds it. A renewal that fails otherwise (the bus is away) is tried
        again: the ttl, not this replica, decides when the lease is gone."""
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                held = await self.leases.hold(operation_id)
            except Exception as exc:
                log.warning("lease of scan %s not renewed: %s", operation_id, exc)
                continue
            if not held:
                lost()
                return

    async def release(self, operation_id: UUID) -> None:
        """Give the lease back (the ttl ends it if the bus cannot be reached)."""
        with contextlib.suppress(Exception):
            await self.leases.release(operation_id)
        self.leases.held.pop(operation_id, None)
