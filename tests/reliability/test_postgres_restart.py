"""Issue 11 part 1: PostgreSQL, the event store of a deployment, restarted mid-operation.

``semantik run`` with ``DATABASE_URL`` on a private cluster (``initdb``) that the test
stops with ``-m immediate`` (no checkpoint, connections cut as in a crash) while the
operation's vectors are being written, and starts again a moment later.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningSystem, semantik_run
from tests.services import PrivatePostgres, unavailable

from .faults import sign_in, survive
from .test_process_faults import embedding

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.slow]

#: Long enough for every service to find its connections broken, short for CI.
OUTAGE_SECONDS = 3.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivatePostgres]:
    try:
        cluster = PrivatePostgres()
        cluster.start()
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        unavailable(f"a private PostgreSQL (initdb, pg_ctl): {exc}")
        raise
    yield cluster
    cluster.remove()


@pytest.fixture(scope="module")
def on_postgres(
    tmp_path_factory: pytest.TempPathFactory, cluster: PrivatePostgres
) -> Iterator[RunningSystem]:
    with semantik_run(tmp_path_factory.mktemp("on-postgres"), DATABASE_URL=cluster.url) as system:
        yield system


async def test_postgres_restarted_mid_operation_loses_and_doubles_nothing(
    on_postgres: RunningSystem, cluster: PrivatePostgres
) -> None:
    async def restart(op: dict[str, Any]) -> bool:
        if not embedding(op):
            return False
        await asyncio.to_thread(cluster.stop, "immediate")
        await asyncio.sleep(OUTAGE_SECONDS)
        await asyncio.to_thread(cluster.start)
        return True

    names = ("collections", "ingest", "embedder", "gateway")
    pids = {name: on_postgres.pid(name) for name in names}
    async with httpx.AsyncClient(base_url=on_postgres.url, timeout=60) as client:
        outcome = await survive(on_postgres, client, sign_in(on_postgres), "pg-restart", restart)
    restarted = [name for name in names if on_postgres.pid(name) != pids[name]]
    print(
        f"\npostgres restarted at {outcome.struck['processed']}/{outcome.struck['total']} chunks: "
        f"{outcome.operation['total']} chunks, {outcome.events} events, {outcome.seconds} s; "
        f"restarted by the supervisor: {restarted or 'none'}"
    )
