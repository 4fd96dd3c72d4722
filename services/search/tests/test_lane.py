"""The store lane: reads one after another on one thread, a read stuck behind a slow one
leaves the queue, a read whose caller gave up never runs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import pytest
from search_service.lane import StoreLane

pytestmark = pytest.mark.unit


@pytest.fixture
async def lane() -> AsyncIterator[StoreLane]:
    opened = StoreLane(patience=0.05)
    yield opened
    opened.close()


def where(log: list[str], name: str, seconds: float = 0.0) -> str:
    log.append(f"{name} started")
    time.sleep(seconds)
    log.append(f"{name} ended")
    return threading.current_thread().name


async def test_reads_run_one_after_another_on_the_lane_s_thread(lane: StoreLane) -> None:
    log: list[str] = []
    threads = await asyncio.gather(*(lane.run(where, log, str(n), 0.005) for n in range(3)))
    assert len(set(threads)) == 1 and threads[0].startswith("store-reads")
    assert log == [f"{n} {event}" for n in "012" for event in ("started", "ended")]


async def test_a_read_behind_a_stuck_one_takes_a_thread_of_its_own(lane: StoreLane) -> None:
    log: list[str] = []
    stuck = asyncio.ensure_future(lane.run(where, log, "stuck", 0.5))
    await asyncio.sleep(0.01)  # in the lane first
    started = time.perf_counter()
    thread = await lane.run(where, log, "next")
    assert time.perf_counter() - started < 0.4  # not held until the stuck read ends
    assert not thread.startswith("store-reads")
    assert log == ["stuck started", "next started", "next ended"]
    assert (await stuck).startswith("store-reads")


async def test_a_read_whose_caller_gave_up_before_it_began_never_runs(lane: StoreLane) -> None:
    log: list[str] = []
    stuck = asyncio.ensure_future(lane.run(where, log, "stuck", 0.2))
    await asyncio.sleep(0.01)  # in the lane first
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(lane.run(where, log, "late"), 0.01)
    await stuck
    await asyncio.sleep(0.05)
    assert log == ["stuck started", "stuck ended"]
