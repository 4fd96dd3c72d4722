"""Reads of a vector store whose queries do not overlap, on one thread of their own.

Qdrant Edge keeps the GIL while it searches, so the five collections of a federated
search are answered one after another whatever threads ask; five threads at once only
added hand-offs. Measured in the vector host (300 searches, medians): the five store
calls took 12.4 ms one after another on one thread, against a span of 13.4 ms from the
first start to the last end from five threads.

A read that waits behind another for longer than ``patience`` (one stuck outside the
engine, or a queue of concurrent searches) leaves the queue for a thread of its own,
so a slow collection cannot hold the others past their timeouts. A read whose caller
gave up before it began never runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
R = TypeVar("R", covariant=True)

#: How long a read waits in the queue before it takes a thread of its own: five hybrid
#: queries of 3,854-point shards take 10-13 ms together; the least timeout is 50 ms.
PATIENCE_SECONDS = 0.02


class StoreLane:
    def __init__(self, patience: float = PATIENCE_SECONDS) -> None:
        self.patience = patience
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="store-reads")

    async def run(self, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``read(...)`` on the lane's thread, with the caller's context (as
        ``asyncio.to_thread``); on a thread of its own once it has waited ``patience``."""
        call = functools.partial(contextvars.copy_context().run, read, *args, **kwargs)
        queued = self._thread.submit(call)
        waiting = asyncio.wrap_future(queued)
        try:
            return await asyncio.wait_for(asyncio.shield(waiting), self.patience)
        except TimeoutError:
            if queued.cancel():  # still behind another read
                return await asyncio.get_running_loop().run_in_executor(None, call)
            return await waiting
        except asyncio.CancelledError:
            queued.cancel()  # the caller gave up: a read not yet begun never runs
            raise

    async def run_all(
        self, reads: Sequence[Callable[[], T]], timeout: float
    ) -> list[T | BaseException]:
        """Each of ``reads`` on the lane's thread, one after another, and what each gave:
        its result, the exception it raised, or ``TimeoutError`` if it was not done
        within ``timeout``. The caller is woken once, when the last is done, not once a
        read (each wake-up takes the GIL from the lane between two reads). As ``run``, a
        read still queued after ``patience`` takes a thread of its own, and reads not
        begun when the caller gives up never run."""
        if not reads:
            return []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        calls = [functools.partial(contextvars.copy_context().run, read) for read in reads]
        queued = [self._thread.submit(call) for call in calls]
        finished: asyncio.Future[None] = loop.create_future()
        left = len(queued)
        lock = threading.Lock()

        def one_done(_: Future[Any]) -> None:
            nonlocal left
            with lock:
                left -= 1
                last = left == 0
            if last:
                with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                    loop.call_soon_threadsafe(_settle, finished)

        for read in queued:
            read.add_done_callback(one_done)
        try:
            await asyncio.wait_for(asyncio.shield(finished), min(self.patience, timeout))
            return [_outcome(read) for read in queued]
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            for read in queued:
                read.cancel()  # the caller gave up: a read not yet begun never runs
            raise
        if loop.time() >= deadline:  # out of time: what is queued never runs
            for read in queued:
                read.cancel()
            return [
                TimeoutError() if read.cancelled() or not read.done() else _outcome(read)
                for read in queued
            ]
        # Patience is up: the reads still queued leave the lane for threads of their own.
        waiting: list[asyncio.Future[T]] = [
            loop.run_in_executor(None, call) if read.cancel() else asyncio.wrap_future(read)
            for read, call in zip(queued, calls, strict=True)
        ]
        for future in waiting:
            future.add_done_callback(_retrieve)
        remaining = deadline - loop.time()
        if remaining > 0:
            await asyncio.wait(waiting, timeout=remaining)
        return [_outcome(future) if future.done() else TimeoutError() for future in waiting]

    def close(self) -> None:
        """Let the thread go once its read is done; reads still queued are dropped."""
        self._thread.shutdown(wait=False, cancel_futures=True)


def _settle(finished: asyncio.Future[None]) -> None:
    if not finished.done():
        finished.set_result(None)


class _Finished(Protocol[R]):
    """A finished future, concurrent or asyncio."""

    def cancelled(self) -> bool: ...
    def exception(self) -> BaseException | None: ...
    def result(self) -> R: ...


def _outcome(read: _Finished[T]) -> T | BaseException:
    """A finished read's result, or what it raised (cancelled: ``CancelledError``)."""
    if read.cancelled():
        return asyncio.CancelledError()
    error = read.exception()
    return error if error is not None else read.result()


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark the outcome of a read nobody waits for any more as seen."""
    if not future.cancelled():
        future.exception()
