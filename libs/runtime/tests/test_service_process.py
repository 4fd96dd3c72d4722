"""Start-up's heap is collected once, then kept out of the cyclic collector's way."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from semantik_runtime.service_process import freeze_startup_heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def unfrozen_after() -> Iterator[None]:
    """The test process's heap goes back to the collector afterwards."""
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.mark.unit
@pytest.mark.usefixtures("unfrozen_after")
def test_start_up_garbage_is_collected_and_the_rest_frozen() -> None:
    # A reference cycle left over from starting: only the cyclic collector frees it.
    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second
    kept = Node()

    freeze_startup_heap()

    assert gone() is None  # collected before the freeze, not frozen for good
    assert gc.get_freeze_count() > 0
    # What lives on is in the permanent generation: no collection visits it any more.
    assert gc.is_tracked(kept) and not any(o is kept for o in gc.get_objects())
