"""The ingest user may hold scan leases under the permissions ``semantik run`` and the
deployments generate (``nats_auth.py``): two replicas, each connected as ``ingest``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from ingest_service.leases import Leases
from semantik_contracts.subjects import INGEST, event_filter
from semantik_contracts.sync import SCAN_LEASES_BUCKET
from semantik_runtime.bus import Bus

from tests.test_bus_auth import authenticated_nats, connected

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with authenticated_nats(tmp_path) as url:
        yield url, tmp_path


async def test_two_ingest_replicas_share_the_scan_leases(server: tuple[str, Path]) -> None:
    url, data_dir = server
    scan = uuid4()
    async with (
        connected(url, data_dir, INGEST) as (one, one_refused),
        connected(url, data_dir, INGEST) as (two, two_refused),
    ):

        def leases(bus: Bus, owner: str) -> Leases:
            return Leases(
                bus,
                owner,
                30.0,
                bucket=SCAN_LEASES_BUCKET,
                prefix="scan",
                description="test",
            )

        first, second = leases(one, "one"), leases(two, "two")
        assert await first.hold(scan)
        assert not await second.hold(scan)
        assert await first.hold(scan)
        await first.release(scan)
        assert await second.hold(scan)
        # Every replica hears the endings of operations (their scans stop there).
        await one.nc.subscribe(
            event_filter(aggregate_type="operation", event_type="OperationCancelled")
        )
        await one.nc.flush()
        assert not await one_refused.wait("permission", seconds=0.5)
        assert one_refused.errors == two_refused.errors == []
