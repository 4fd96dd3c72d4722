"""A cancelled caller of ``finish_in_thread`` returns only after its thread is done."""

from __future__ import annotations

import asyncio
import threading

import pytest
from semantik_runtime.threads import finish_in_thread


async def test_a_cancelled_caller_waits_for_the_thread_to_finish() -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[str] = []

    def statement() -> str:
        started.set()
        release.wait(5)
        finished.append("done")
        return "done"

    task = asyncio.ensure_future(finish_in_thread(statement))
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    await asyncio.sleep(0.05)
    assert not task.done()  # still waiting on the thread: the store must stay open
    task.cancel()  # a second cancellation does not abandon it either
    await asyncio.sleep(0.05)
    assert not task.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished == ["done"]


async def test_the_result_and_the_failure_of_the_thread_reach_the_caller() -> None:
    assert await finish_in_thread(sum, [1, 2, 3]) == 6

    def fail() -> None:
        raise ValueError("no such table")

    with pytest.raises(ValueError, match="no such table"):
        await finish_in_thread(fail)
