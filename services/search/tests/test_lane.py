"""The store lane: reads one after another on one thread, a read stuck behind a slow one
leaves the queue, a read whose caller gave up never runs; reads asked for together
answer together, each with its own outcome."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from functools import partial

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


def failing() -> str:
    raise ValueError("this read failed")


async def test_reads_together_give_each_its_own_outcome(lane: StoreLane) -> None:
    log: list[str] = []
    found = await lane.run_all(
        [partial(where, log, "a", 0.005), failing, partial(where, log, "b")], 1.0
    )
    assert found[0] == found[2] and str(found[0]).startswith("store-reads")
    assert isinstance(found[1], ValueError) and str(found[1]) == "this read failed"
    assert log == ["a started", "a ended", "b started", "b ended"]  # in order, one thread
    assert await lane.run_all([], 1.0) == []


async def test_reads_together_behind_a_stuck_one_take_threads_of_their_own(
    lane: StoreLane,
) -> None:
    log: list[str] = []
    started = time.perf_counter()
    found = await lane.run_all(
        [partial(where, log, "stuck", 0.5), partial(where, log, "next")], 0.2
    )
    assert time.perf_counter() - started < 0.4  # answered at the timeout, not held
    assert isinstance(found[0], TimeoutError)  # not done within the timeout
    assert isinstance(found[1], str) and not found[1].startswith("store-reads")
    assert log == ["stuck started", "next started", "next ended"]


async def test_reads_together_out_of_time_never_run(lane: StoreLane) -> None:
    log: list[str] = []
    stuck = asyncio.ensure_future(lane.run(where, log, "stuck", 0.2))
    await asyncio.sleep(0.01)  # in the lane first
    found = await lane.run_all([partial(where, log, "late")], 0.01)  # under the patience
    assert [type(f) for f in found] == [TimeoutError]
    await stuck
    await asyncio.sleep(0.05)
    assert log == ["stuck started", "stuck ended"]  # "late" was dropped, not run


async def test_reads_together_whose_caller_gave_up_never_run(lane: StoreLane) -> None:
    log: list[str] = []
    stuck = asyncio.ensure_future(lane.run(where, log, "stuck", 0.2))
    await asyncio.sleep(0.01)
    together = asyncio.ensure_future(lane.run_all([partial(where, log, "late")], 1.0))
    await asyncio.sleep(0.01)
    together.cancel()
    with pytest.raises(asyncio.CancelledError):
        await together
    await stuck
    await asyncio.sleep(0.05)
    assert log == ["stuck started", "stuck ended"]
