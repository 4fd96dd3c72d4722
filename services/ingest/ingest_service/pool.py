"""The pool of extraction processes, replaced when one of its processes dies.

A parser that crashes its process (a C library's fault, the kernel's OOM killer)
breaks the whole ``ProcessPoolExecutor``; the pool is replaced and the call tried once
more, so one poisonous file fails alone instead of taking the scan with it.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from .extract import DocumentError
from .preparation import start_worker

log = logging.getLogger(__name__)
T = TypeVar("T")


class ExtractionPool:
    def __init__(self, workers: int, niceness: int = 10) -> None:
        self.workers = workers
        self.niceness = niceness
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # spawn: the service has threads, and forking a threaded process is unsafe.
                self._executor = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=start_worker,
                    initargs=(self.niceness,),
                )
            return self._executor

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in an extraction process; ``DocumentError`` if it kills two."""
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            executor = self.executor()
            try:
                return await loop.run_in_executor(executor, fn, *args)
            except BrokenProcessPool:
                log.warning("an extraction process died (attempt %s); replacing the pool", attempt)
                self._replace(executor)
        raise DocumentError("reading this file crashed the extraction process")

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
