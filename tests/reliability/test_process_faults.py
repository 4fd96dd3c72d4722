"""Issue 11 part 1: SIGKILL each process of ``semantik run`` while an index operation runs.

The supervisor restarts what was killed. In the embedded default the embedder and the
search service are one process, the vector host (a Qdrant Edge shard admits one process,
SPEC §5), so killing it kills both; the collections service hosts its outbox relay, so
killing it kills the relay too. The nats-server that ``semantik run`` started is killed
too: the supervisor starts it again on the same port and store.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningSystem

from .faults import Fault, survive

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.slow]


def embedding(op: dict[str, Any]) -> bool:
    """Vectors are being written: some chunks embedded, not all."""
    return bool(op["processed"] > 0 and (op["total"] == 0 or op["processed"] < op["total"]))


def started(op: dict[str, Any]) -> bool:
    return bool(op["status"] == "processing")


def sigkill(system: RunningSystem, pid_name: str, when: Callable[[dict[str, Any]], bool]) -> Fault:
    """Kill the process that ``<pid_name>.pid`` names once ``when`` holds."""

    async def fault(op: dict[str, Any]) -> bool:
        if not when(op):
            return False
        victim = system.pid(pid_name)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while system.pid(pid_name) == victim:  # the supervisor starts it again
            assert time.monotonic() < deadline, f"{pid_name} was not restarted"
            await asyncio.sleep(0.1)
        return True

    return fault


# (the pid file of the process killed, when it is killed during the operation)
VICTIMS = {
    "collections": ("collections", embedding),  # with its outbox relay
    "ingest": ("ingest", started),  # scanning, or publishing the scan's work
    "vector-host": ("embedder", embedding),  # embedder + search (one process here)
    "gateway": ("gateway", embedding),  # the live client loses its socket too
    "nats-server": ("nats-server", embedding),
}


@pytest.mark.parametrize("victim", list(VICTIMS))
async def test_a_killed_process_loses_and_doubles_nothing(
    faulted_system: RunningSystem,
    faulted_client: httpx.AsyncClient,
    faulted_auth: dict[str, str],
    victim: str,
) -> None:
    pid_name, when = VICTIMS[victim]
    fault = sigkill(faulted_system, pid_name, when)
    outcome = await survive(faulted_system, faulted_client, faulted_auth, f"kill-{victim}", fault)
    print(
        f"\n{victim} killed at {outcome.struck['processed']}/{outcome.struck['total']} chunks: "
        f"{outcome.operation['total']} chunks, {outcome.events} events, "
        f"{outcome.reconnections} reconnections, {outcome.seconds} s"
    )
