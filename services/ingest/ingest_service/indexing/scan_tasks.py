"""The scans running in this process: each a background task, retried on failure.

A scan may outlast the consumer's ack wait, so it runs beside the handler that started
it. It runs only under its lease (``scan_claims.py``): of the replicas that launch it
(the one its request reached, one resuming it, one taking it over) exactly one runs it.
One that keeps failing is given up here and its lease given back: another replica may
take it over, this one resumes it at its next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

from .scan_claims import ScanClaims
from .scan_runner import ScanRunner

log = logging.getLogger(__name__)

_MAX_ATTEMPTS = 5


class ScanTasks:
    def __init__(
        self, runner: ScanRunner, claims: ScanClaims, max_attempts: int = _MAX_ATTEMPTS
    ) -> None:
        self.runner = runner
        self.claims = claims
        self.max_attempts = max_attempts
        self.running: dict[UUID, asyncio.Task[None]] = {}
        #: Scans that kept failing here: not taken over again by this process.
        self.given_up: set[UUID] = set()

    def __contains__(self, operation_id: object) -> bool:
        return operation_id in self.running

    def is_running(self, operation_id: UUID) -> bool:
        return operation_id in self.running

    def launch(self, operation_id: UUID) -> None:
        """Run the scan here if its lease can be taken (else another replica runs it)."""
        task = asyncio.ensure_future(self._run(operation_id))
        self.running[operation_id] = task
        task.add_done_callback(lambda _: self.running.pop(operation_id, None))

    async def take_over(
        self, open_scans: Callable[[], Awaitable[list[UUID]]], stop: asyncio.Event
    ) -> None:
        """At once and then every ``ttl / 2``: launch each open scan not running here,
        so a scan whose replica died (its lease lapsed) is resumed by another."""
        while not stop.is_set():
            try:
                for operation_id in await open_scans():
                    if operation_id not in self.running and operation_id not in self.given_up:
                        self.launch(operation_id)
            except Exception:
                log.exception("open scans not looked at; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.claims.ttl / 2)

    async def idle(self) -> None:
        """Wait for the scans running now (tests, orderly shutdown)."""
        while self.running:
            await asyncio.gather(*self.running.values(), return_exceptions=True)

    async def close(self) -> None:
        tasks = list(self.running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, operation_id: UUID) -> None:
        if not await self.claims.take(operation_id):
            # Another replica runs it (and hears its ending itself; this one checks the
            # stream if it ever takes the scan over).
            self.runner.stopping.discard(operation_id)
            return
        log.info("running scan %s", operation_id)

        def lost() -> None:
            self.runner.lost.add(operation_id)  # it stops at the next file

        keeper = asyncio.ensure_future(self.claims.keep(operation_id, lost))
        try:
            await self._attempts(operation_id)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            self.runner.lost.discard(operation_id)
            await self.claims.release(operation_id)

    async def _attempts(self, operation_id: UUID) -> None:
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self.runner.run(operation_id)
                return
            except Exception:
                log.exception("scan %s failed (attempt %s)", operation_id, attempt)
                if operation_id in self.runner.lost:
                    return  # another replica runs it now
                await asyncio.sleep(min(2.0**attempt, 60.0))
        self.given_up.add(operation_id)
        log.error(
            "scan %s gave up after %s attempts; another replica may take it over, this "
            "one resumes it at its next start",
            operation_id,
            self.max_attempts,
        )
