"""The pool of extraction processes, replaced when one of its processes dies.

A parser that crashes its process (a C library's fault, the kernel's OOM killer)
breaks the whole ``ProcessPoolExecutor``; the pool is replaced and the call tried once
more, so one poisonous file fails alone instead of taking the scan with it.

A parser that never returns (a crafted PDF whose object graph loops, say) would hold
its operation open for ever. So each call has ``timeout`` seconds, counted in the
extraction process from when it starts (time queued behind other files does not
count): a SIGALRM handler then raises ``DocumentError`` with the reason, and the process
goes on with the next file. A parser stuck inside C code never returns to Python for
the handler to run; for that, SIGPROF's default action ends the process once it has
spent twice that in CPU time, and the pool is replaced as after any crash.

An extraction process ends itself when the service that started it is gone: a service
killed with SIGKILL (or by the OOM killer) cannot shut its pool down, and its extraction
processes were left running for ever, a set more at each restart (found by issue 11's
fault suite).

Not ``pebble`` (5.2): its ProcessPool times a task out by killing its process, and a
fresh extraction process took 0.61-0.72 s here before its first file (spawn, parsers,
tokenizer; 2026-12-05), where the SIGALRM above fails the one file and keeps the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

from .extract import DocumentError
from .preparation import start_worker

log = logging.getLogger(__name__)
T = TypeVar("T")
#: prctl(2)'s option that names the signal a process gets when its parent ends.
_PR_SET_PDEATHSIG = 1


class ExtractionCrashed(DocumentError):
    """The call's process died twice: a unit of this call, or of another call under way
    in the pool at the time, crashed it (a crash breaks every call in flight)."""


def _raise_timeout(seconds: float) -> Callable[[int, object], None]:
    def handler(_signum: int, _frame: object) -> None:
        raise DocumentError(f"reading this file took longer than {seconds:g} s")

    return handler


def within(seconds: float, fn: Callable[..., T], *args: Any) -> T:
    """Run in an extraction process: ``fn(*args)``, given ``seconds`` to finish."""
    signal.signal(signal.SIGALRM, _raise_timeout(seconds))
    signal.signal(signal.SIGPROF, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_PROF, 2 * seconds)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_PROF, 0)


def _end_with(parent: int) -> None:
    """In an extraction process: be killed by the kernel when ``parent`` ends (Linux's
    parent-death signal; the parent is the service's thread that started the process,
    the event loop's, which lives as long as the service). No watching thread: the
    extraction's timer signals must reach the one thread that extracts."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: nothing to ask for
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning("extraction processes will outlive a killed service (prctl failed)")
    if os.getppid() != parent:  # it ended before the request above
        os._exit(0)


def start_extraction_process(parent: int, niceness: int, models_dir: Path | None) -> None:
    """Initializer of each extraction process (see ``start_worker``)."""
    _end_with(parent)
    start_worker(niceness, models_dir)


class ExtractionPool:
    def __init__(
        self,
        workers: int,
        niceness: int = 10,
        timeout: float = 300.0,
        models_dir: Path | None = None,
    ) -> None:
        self.workers = workers
        self.niceness = niceness
        self.timeout = timeout
        self.models_dir = models_dir
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # spawn: the service has threads, and forking a threaded process is unsafe.
                self._executor = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=start_extraction_process,
                    initargs=(os.getpid(), self.niceness, self.models_dir),
                )
            return self._executor

    async def warm(self) -> None:
        """Start every extraction process now (an interpreter each, the parsers' imports,
        the default tokenizer: seconds of CPU), not when a scan first needs them: the
        first ingest after start-up would otherwise wait for them before its first chunk.
        A call per process, all at once, so that each starts a process of its own."""
        loop = asyncio.get_running_loop()
        executor = self.executor()
        calls = [loop.run_in_executor(executor, os.getpid) for _ in range(self.workers)]
        try:
            await asyncio.gather(*calls)
        except BrokenProcessPool:
            log.warning("an extraction process died while starting; replacing the pool")
            self._replace(executor)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in an extraction process.

        ``DocumentError`` if it runs past ``timeout`` or kills two processes."""
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            executor = self.executor()
            try:
                return await loop.run_in_executor(executor, within, self.timeout, fn, *args)
            except BrokenProcessPool:
                log.warning("an extraction process died (attempt %s); replacing the pool", attempt)
                self._replace(executor)
        raise ExtractionCrashed("reading this file crashed the extraction process")

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
