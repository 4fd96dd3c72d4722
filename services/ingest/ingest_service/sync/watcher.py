"""One source's folder, followed with ``watchfiles`` (file system notifications).

Changes are debounced: a batch is handed on once the folder has been quiet for
``quiet_ms`` or ``max_ms`` after its first change, so a burst of writes is one batch.
Hidden names and what the source's roots refuse (Semantik's own data) are ignored.

A folder that is deleted, renamed, replaced by a file or made unreadable stops the
watcher gracefully: ``report`` says why, and it starts again once the folder is back.
Each time it starts watching, it hands on an empty batch: what changed while no one
watched (before a restart, while the folder was away) is indexed then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from semantik_contracts.sync import SyncStatus
from watchfiles import Change, DefaultFilter, awatch

from ..sources.roots import SourceRoots

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Changed:
    """A debounced batch of one source's changes."""

    source_id: UUID
    #: When each changed file was last written (its mtime), or seen gone (deleted).
    written_at: list[float]


#: What the watcher does with a batch, and how it tells its state (status, reason).
OnChange = Callable[[Changed], Awaitable[None]]
Report = Callable[[UUID, SyncStatus, str], Awaitable[None]]


def folder_problem(path: Path) -> str:
    """Why ``path`` cannot be watched, in words the user can act on; "" if it can."""
    try:
        if not path.exists():
            return f"the folder {path} is gone (deleted or renamed); sync resumes when it is back"
        if not path.is_dir():
            return f"{path} is no longer a folder; sync resumes when it is a folder again"
    except OSError as exc:
        return f"{path} cannot be read: {exc.strerror}"
    if not os.access(path, os.R_OK | os.X_OK):
        return f"permission denied reading {path}; sync resumes when it is readable"
    return ""


class SourceWatcher:
    """Follows the folder of one source until ``stop`` is set."""

    def __init__(
        self,
        source_id: UUID,
        path: Path,
        roots: SourceRoots,
        on_change: OnChange,
        report: Report,
        *,
        quiet_ms: int = 500,
        max_ms: int = 2000,
        recheck_seconds: float = 1.0,
    ) -> None:
        self.source_id = source_id
        self.path = path
        self.roots = roots
        self.on_change = on_change
        self.report = report
        self.quiet_ms = quiet_ms
        self.max_ms = max_ms
        self.recheck = recheck_seconds
        self.stop = asyncio.Event()
        self._default = DefaultFilter()
        #: The state last reported: (status, reason).
        self.told: tuple[SyncStatus, str] | None = None

    def accepts(self, change: Change, raw: str) -> bool:
        """Changes of files the source reads: no hidden names below its folder (nor
        what ``watchfiles`` ignores: .git, editors' swap files…), not Semantik's data."""
        if not self._default(change, raw):
            return False
        path = Path(raw)
        below = path.relative_to(self.path).parts if self.path in path.parents else ()
        if any(part.startswith(".") for part in below) or self.roots.is_hidden(path):
            return False
        return not self.roots.is_own(Path(os.path.realpath(path)))

    async def run(self) -> None:
        """Watch; while the folder is missing or unreadable, wait for it to be back."""
        while not self.stop.is_set():
            problem = folder_problem(self.path)
            state = (SyncStatus.STOPPED if problem else SyncStatus.ACTIVE, problem)
            if state != self.told:
                await self._report(*state)
                if not problem:  # (again): what changed while no one watched is indexed
                    await self._catch_up()
                self.told = state
            if problem:
                await self._pause()
            else:
                await self._watch()

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), self.recheck)

    async def _catch_up(self) -> None:
        try:
            await self.on_change(Changed(self.source_id, []))
        except Exception:
            log.exception("catching up with source %s failed; its next change will", self.source_id)

    async def _report(self, status: SyncStatus, reason: str) -> None:
        try:
            await self.report(self.source_id, status, reason)
        except Exception as exc:  # told again at its next change of state
            log.warning("sync state of source %s not reported: %s", self.source_id, exc)

    async def _watch(self) -> None:
        try:
            async for changes in awatch(
                self.path,
                watch_filter=self.accepts,
                debounce=self.max_ms,
                step=self.quiet_ms,
                stop_event=self.stop,
                rust_timeout=int(self.recheck * 1000),
                yield_on_timeout=True,
                ignore_permission_denied=True,
            ):
                if folder_problem(self.path):
                    return  # run() reports it and waits for the folder
                if changes:
                    await self._hand_on(changes)
        except (FileNotFoundError, PermissionError, OSError) as exc:
            log.info("watching %s ended: %s", self.path, exc)
            await self._pause()

    async def _hand_on(self, changes: set[tuple[Change, str]]) -> None:
        now = time.time()
        written: list[float] = []
        for change, raw in changes:
            try:
                written.append(now if change is Change.deleted else os.stat(raw).st_mtime)
            except OSError:
                written.append(now)  # gone since
        try:
            await self.on_change(Changed(self.source_id, written))
        except Exception:
            log.exception("change of source %s not handed on; the next one will", self.source_id)
