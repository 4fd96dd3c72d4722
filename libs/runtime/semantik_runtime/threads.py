"""Blocking store calls from asyncio that a cancellation cannot abandon half-way.

``asyncio.to_thread`` returns at once when its caller is cancelled, but the thread goes
on. If the caller was cancelled because its service is shutting down, the service then
closes the event store while that thread still runs a statement on one of its
connections, and SQLite crashes the process (seen as a segmentation fault in
``insert_tracking``). ``finish_in_thread`` lets a cancelled caller wait for the thread
before the cancellation goes on, so nothing is closed under a running statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def _observe(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # read, so an abandoned failure is not reported as unhandled


async def finish_in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on a thread; if cancelled, return only once it has finished."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    task.add_done_callback(_observe)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            try:
                await asyncio.wait({task})
            except asyncio.CancelledError:  # cancelled again: the thread still runs
                continue
        raise
