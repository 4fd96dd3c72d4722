"""How the embedder's lanes share the buffered chunks."""

from __future__ import annotations

import pytest
from embedder_service.buffer import lane_share

pytestmark = pytest.mark.unit


def test_full_batches_while_every_lane_has_one() -> None:
    assert lane_share(384, 128, 2, 8) == 128
    assert lane_share(256, 128, 2, 8) == 128
    assert lane_share(10_000, 128, 1, 8) == 128


def test_the_end_of_a_queue_is_shared_out_evenly() -> None:
    # 200 chunks left for 2 lanes: 100, then what remains is halved again, down to 8.
    sizes, waiting = [], 200
    while waiting:
        size = min(waiting, lane_share(waiting, 128, 2, 8))
        sizes.append(size)
        waiting -= size
    assert sizes == [100, 50, 25, 13, 8, 4]
    assert lane_share(3, 128, 2, 8) == 8  # the floor; take() gives what there is
    assert lane_share(0, 128, 2, 0) == 1
