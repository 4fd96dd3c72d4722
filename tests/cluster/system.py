"""Semantik beyond one machine, on one: a three-node JetStream cluster with R3 streams,
PostgreSQL, two replicas each of the gateway, collections and ingest as separate
processes, and one vector host (the embedded Qdrant Edge shard admits one process).

The processes are ``semantik run``'s own (semantik.supervisor: its process table, pid
files, logs and restarts), with NATS_URL naming every node and a second process of
each of ``REPLICATED``. A balancer stands in front of the two gateways as a
deployment's load balancer does: each new connection goes to the next gateway that
accepts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from semantik_contracts.subjects import EVENTS_STREAM
from semantik_runtime.bus import Bus
from semantik_runtime.nats_auth import COLLECTIONS
from semantik_runtime.nats_config import authorization
from semantik_runtime.nats_credentials import NatsCredentials

from semantik.nats_secrets import nats_passwords
from semantik.settings import RunSettings
from semantik.supervisor import Child, Supervisor, with_user
from tests.cluster.nats_cluster import NatsCluster, Node
from tests.e2e.conftest import DATA_DIRS, RunningSystem
from tests.services import free_port

REPLICAS = 3
#: Services that run twice; the vector host (embedder and search) stays single. Two
#: collections replicas answer alike: each reads the log's tail before a command or a
#: query (services/collections/tests/test_replicas.py).
REPLICATED = ("collections", "ingest", "gateway")


class Balancer:
    """A TCP balancer on a free port of 127.0.0.1 over the gateways' ports, in a thread
    of its own (tests also make blocking calls from their event loop)."""

    def __init__(self, backends: list[int]) -> None:
        self.port = free_port()
        self.backends = backends
        self._turn = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="balancer", daemon=True)

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10), "the balancer did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        serving = asyncio.start_server(self._serve, "127.0.0.1", self.port)
        server = self._loop.run_until_complete(serving)
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in self.backends:
            port = self.backends[self._turn % len(self.backends)]
            self._turn += 1
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue  # that gateway is down: the next one
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
            return
        writer.close()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    sink.close()


@dataclass
class ClusterSystem(RunningSystem):
    """A RunningSystem (its url is the balancer's) whose NATS is a cluster."""

    cluster: NatsCluster = dataclasses.field(kw_only=True)
    supervisor: Supervisor = dataclasses.field(kw_only=True)
    gateways: list[str] = dataclasses.field(kw_only=True)

    def remember_nats(self) -> None:
        """Where the CLI (``semantik projections rebuild``) and tests.reliability.faults
        find NATS for this data dir, as ``semantik run`` leaves it: one live node."""
        node = next(n for n in self.cluster.nodes if n.process and n.process.poll() is None)
        assert node.process is not None
        run = self.data_dir / "run"
        (run / "nats.url").write_text(node.url + "\n")
        (run / ".nats-server.pid.new").write_text(f"{node.process.pid}\n")
        (run / ".nats-server.pid.new").replace(run / "nats-server.pid")

    def restart_nats(self, node: Node) -> None:
        self.cluster.start(node)
        self.remember_nats()


async def ensure_streams(url: str, credentials: NatsCredentials) -> None:
    """Both streams at R3, as every service creates them at start; retried while the
    new cluster elects its JetStream leader."""
    bus = await Bus.connect(url, "cluster-test", credentials)
    bus = Bus(bus.nc, "cluster-test", replicas=REPLICAS)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                await bus.ensure_streams()
                info = await bus.js.stream_info(EVENTS_STREAM)
                if info.cluster and info.cluster.leader:
                    return
            except Exception:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.3)
    finally:
        await bus.close()


def wait_ready(urls: list[str], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(urls)
    while waiting and time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{waiting[0]}/health/ready", timeout=2).status_code == 200:
                waiting.pop(0)
                continue
        time.sleep(0.5)
    assert not waiting, f"not ready: {waiting}"


@contextlib.contextmanager
def cluster_system(base: Path, database_url: str) -> Iterator[ClusterSystem]:
    """The whole system over a cluster, until the block ends."""
    data_dir = base / "data"
    passwords = nats_passwords(data_dir)
    cluster = NatsCluster(base / "nats", authorization(passwords))
    ports = [free_port() for _ in range(2)]
    settings = RunSettings(
        host="127.0.0.1",
        port=ports[0],
        data_dir=data_dir,
        source_roots=None,
        nats_url=cluster.url,
        database_url=database_url,
        qdrant_url=None,
        log_level="INFO",
    )
    supervisor = Supervisor(settings)
    balancer = Balancer(ports)
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(supervisor, stop), daemon=True)
    try:
        cluster.start_all()
        credentials = NatsCredentials(COLLECTIONS, passwords[COLLECTIONS])
        asyncio.run(ensure_streams(cluster.url, credentials))
        supervisor.plan()
        supervisor.children = _replicated(supervisor.children, passwords, ports[1])
        for child in supervisor.children:
            supervisor.spawn(child)
        watcher.start()
        balancer.start()
        gateways = [f"http://127.0.0.1:{port}" for port in ports]
        system = ClusterSystem(
            f"http://127.0.0.1:{balancer.port}",
            data_dir,
            data_dir / "sources",
            supervisor.children[0].process,  # type: ignore[arg-type]
            cluster=cluster,
            supervisor=supervisor,
            gateways=gateways,
        )
        system.remember_nats()
        DATA_DIRS[system.url] = data_dir
        wait_ready([*gateways, system.url])
        yield system
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join(5)
        supervisor.stop()
        balancer.stop()
        cluster.stop()


def _replicated(children: list[Child], passwords: dict[str, str], port: int) -> list[Child]:
    """``semantik run``'s children, each signed in as its NATS user, with a second
    replica of each of ``REPLICATED`` (the second gateway on ``port``)."""
    result = []
    for child in children:
        env = {k: v for k, v in child.env.items() if k not in ("NATS_USER", "NATS_PASSWORD")}
        env.update(
            SEMANTIK_STREAM_REPLICAS=str(REPLICAS),
            # Work held by a killed process comes back after this (as tests/e2e sets it).
            SEMANTIK_EMBED_ACK_WAIT_SECONDS="8",
        )
        child.env = with_user(env, child.name, passwords)
        result.append(child)
        if child.name in REPLICATED:
            second = dict(child.env)
            if child.name == "gateway":
                second["SEMANTIK_PORT"] = str(port)
            name = f"{child.name}-2"
            result.append(Child(name, list(child.argv), [name], second))
    return result


def _watch(supervisor: Supervisor, stop: threading.Event) -> None:
    """The supervisor's loop: restart what was killed."""
    while not stop.wait(0.2):
        supervisor.watch_once()
