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
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

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

    def close(self) -> None:
        """Let the thread go once its read is done; reads still queued are dropped."""
        self._thread.shutdown(wait=False, cancel_futures=True)
