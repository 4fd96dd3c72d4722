"""A model's reads handed to the store's lane by the query encoder's thread: they run in
the search's context as soon as the query is encoded; a search that gave up on its
embedding has nothing handed over, and its reads not yet begun never run."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import numpy as np
import pytest
from search_service.app import Handoff
from search_service.lane import StoreLane

pytestmark = pytest.mark.unit

SEARCH = contextvars.ContextVar("search", default="none")


@pytest.fixture
async def lane() -> AsyncIterator[StoreLane]:
    opened = StoreLane(patience=5.0)
    yield opened
    opened.close()


def recorder(log: list[tuple[Any, ...]]) -> Callable[[list[float]], list[Callable[[], Any]]]:
    """Reads of each vector: each logs the vector, the thread and the search's context."""

    def read(name: str, dense: list[float]) -> str:
        log.append((name, dense, threading.current_thread().name, SEARCH.get()))
        return name

    return lambda dense: [partial(read, "first", dense), partial(read, "second", dense)]


def encode_on_a_thread(handoff: Handoff, vector: list[float]) -> None:
    """What the query thread does: the vector handed over from another thread."""
    done = threading.Thread(target=handoff.start, args=(np.array([vector]),))
    done.start()
    done.join()


async def test_the_reads_run_on_the_lane_in_the_searchs_context(lane: StoreLane) -> None:
    log: list[tuple[Any, ...]] = []
    SEARCH.set("search 7")
    handoff = Handoff(lane, recorder(log))
    SEARCH.set("another")
    await asyncio.to_thread(encode_on_a_thread, handoff, [0.5, 0.25])
    queued = handoff.queued()
    assert queued is not None
    found = await lane.wait_all(queued, asyncio.get_running_loop().time() + 5)
    assert found == ["first", "second"]
    assert [(name, dense, context) for name, dense, _, context in log] == [
        ("first", [0.5, 0.25], "search 7"),
        ("second", [0.5, 0.25], "search 7"),
    ]
    assert {thread.split("_")[0] for _, _, thread, _ in log} == {"store-reads"}


async def test_an_encoding_that_ends_after_the_search_gave_up_hands_nothing_over(
    lane: StoreLane,
) -> None:
    log: list[tuple[Any, ...]] = []
    handoff = Handoff(lane, recorder(log))
    handoff.abandon()
    await asyncio.to_thread(encode_on_a_thread, handoff, [1.0])
    await asyncio.sleep(0.05)
    assert handoff.queued() is None and log == []


async def test_reads_handed_over_and_not_begun_when_the_search_gives_up_never_run(
    lane: StoreLane,
) -> None:
    log: list[tuple[Any, ...]] = []
    stuck = asyncio.ensure_future(lane.run(time.sleep, 0.2))  # the lane is busy
    await asyncio.sleep(0.01)
    handoff = Handoff(lane, recorder(log))
    await asyncio.to_thread(encode_on_a_thread, handoff, [1.0])
    assert handoff.queued() is not None
    handoff.abandon()
    await stuck
    await asyncio.sleep(0.05)
    assert log == []
