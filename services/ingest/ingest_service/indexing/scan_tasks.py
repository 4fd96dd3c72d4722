"""The scans running in this process: each a background task, retried on failure.

A scan may outlast the consumer's ack wait, so it runs beside the handler that started
it; one that keeps failing is given up and resumed at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

from .scan_runner import ScanRunner

log = logging.getLogger(__name__)

_MAX_ATTEMPTS = 5


class ScanTasks:
    def __init__(self, runner: ScanRunner, max_attempts: int = _MAX_ATTEMPTS) -> None:
        self.runner = runner
        self.max_attempts = max_attempts
        self.running: dict[UUID, asyncio.Task[None]] = {}

    def __contains__(self, operation_id: object) -> bool:
        return operation_id in self.running

    def is_running(self, operation_id: UUID) -> bool:
        return operation_id in self.running

    def launch(self, operation_id: UUID) -> None:
        task = asyncio.ensure_future(self._run(operation_id))
        self.running[operation_id] = task
        task.add_done_callback(lambda _: self.running.pop(operation_id, None))

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
        for attempt in range(1, self.max_attempts + 1):
            try:
                await self.runner.run(operation_id)
                return
            except Exception:
                log.exception("scan %s failed (attempt %s)", operation_id, attempt)
                await asyncio.sleep(min(2.0**attempt, 60.0))
        log.error(
            "scan %s gave up after %s attempts; resumed at next start",
            operation_id,
            self.max_attempts,
        )
