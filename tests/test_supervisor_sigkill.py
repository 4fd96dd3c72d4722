"""A SIGKILLed ``semantik run`` takes every process it started along (the kernel's
parent-death signal), and the next ``semantik run`` on its data dir starts cleanly
whatever it left behind (pid files, nats.url)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import semantik_run

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's"),
]


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc's children lists)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    if int(child) not in found:
                        found.add(int(child))
                        todo.append(int(child))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie has exited, only not yet reaped
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    return False


def test_a_sigkilled_run_takes_its_processes_along_and_the_next_run_starts_cleanly(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with semantik_run(data_dir) as first:
        below = descendants(first.process.pid)
        assert {first.pid("nats-server"), first.pid("gateway"), first.pid("ingest")} <= below
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
        deadline = time.monotonic() + 20
        while (left := {pid for pid in below if alive(pid)}) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, f"outlived their supervisor: {left}"
    assert (data_dir / "run" / "nats.url").exists()  # left behind by the killed run
    with semantik_run(data_dir) as second:
        assert httpx.get(f"{second.url}/health/ready", timeout=5).status_code == 200
    assert not (data_dir / "run" / "nats.url").exists()  # a clean stop removes it
