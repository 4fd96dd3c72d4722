"""Issue 25: Semantik on a three-node JetStream cluster with R3 streams survives the loss
of a NATS node, then of another once the first is back, and of one replica of each
service, while a collection indexes and searches run.

The checks are issue 11's (tests.reliability.faults.survive): the operation completes
with every chunk embedded once, no event twice in SEMANTIK_EVENTS, a WebSocket client
that saw every event of the collection once, and read models equal to a rebuild.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from semantik_contracts.subjects import EVENTS_STREAM, WORK_STREAM
from semantik_runtime.nats_auth import OPERATOR
from semantik_runtime.nats_credentials import connect_options

from semantik.nats_secrets import local_credentials
from tests.cluster.nats_cluster import Node
from tests.cluster.system import REPLICAS, REPLICATED, ClusterSystem, cluster_system
from tests.reliability.faults import sign_in, survive

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.slow]

#: The services killed at once, one process of each; the supervisor restarts them.
VICTIMS = ("collections", "ingest", "gateway")


@pytest.fixture
def system(tmp_path: Path, database_url: str) -> Iterator[ClusterSystem]:
    with cluster_system(tmp_path, database_url) as running:
        yield running


@pytest.fixture
async def client(system: ClusterSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as http:
        yield http


@dataclass
class Searches:
    """Searches of one collection, one after another, while the faults strike: what
    each answered (a status, or the transport error of a gateway killed meanwhile)."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    collection_id: str
    answers: Counter[str] = field(default_factory=Counter)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                found = await self.client.post(
                    f"/api/v2/collections/{self.collection_id}/search",
                    json={"query": "granite basalt quartz"},
                    headers=self.headers,
                )
                self.answers[str(found.status_code)] += 1
            except httpx.TransportError as exc:
                self.answers[type(exc).__name__] += 1
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass
class Faults:
    """The kills, while the operation runs: the SEMANTIK_EVENTS leader's node, then, once
    it is back and current, the SEMANTIK_WORK leader's (or another) node together with
    one replica of each service of ``VICTIMS``, so the replicas restart with a node
    down. A node takes about 7 s to be back and current on an idle machine, in which
    the operation would otherwise have to outlast three faults one after another."""

    system: ClusterSystem
    searches: Searches | None = None
    #: (what was killed, the operation's progress then, seconds until it was back)
    table: list[tuple[str, str, float]] = field(default_factory=list)
    nodes_killed: list[Node] = field(default_factory=list)

    async def __call__(self, op: dict[str, Any]) -> bool:
        if not op["processed"]:
            return False  # not embedding yet
        progress = f"{op['processed']}/{op['total']}"
        if not self.table:
            leader = self.system.cluster.stream_leader(EVENTS_STREAM)
            await self.kill_node(leader, f"{EVENTS_STREAM} leader", progress)
            return False
        first = self.nodes_killed[0]
        leader = self.system.cluster.stream_leader(WORK_STREAM)
        other = next(n for n in self.system.cluster.nodes if n is not first)
        victim = leader if leader is not first else other
        role = f"{WORK_STREAM} leader" if victim is leader else "a follower"
        await asyncio.gather(self.kill_node(victim, role, progress), self.kill_replicas(progress))
        return True

    async def kill_node(self, node: Node, role: str, progress: str) -> None:
        began = time.monotonic()
        self.nodes_killed.append(node)
        self.system.cluster.kill(node)
        await asyncio.sleep(1.0)  # down while the others elect leaders and go on
        self.system.restart_nats(node)
        await asyncio.to_thread(self.system.cluster.wait_healthy, *self.system.cluster.nodes)
        self.table.append((f"nats {node.name} ({role})", progress, time.monotonic() - began))

    async def kill_replicas(self, progress: str) -> None:
        began = time.monotonic()
        victims = {name: self.system.pid(name) for name in VICTIMS}
        for victim in victims.values():
            os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while any(self.system.pid(name) == pid for name, pid in victims.items()):
            assert time.monotonic() < deadline, "a killed replica was not restarted"
            await asyncio.sleep(0.1)
        killed = ", ".join(f"{name} (1 of {2 if name in REPLICATED else 1})" for name in victims)
        self.table.append((killed, progress, time.monotonic() - began))


async def stream_replicas(system: ClusterSystem) -> dict[str, tuple[int, int]]:
    """Every stream of the cluster (SEMANTIK_*, the KV buckets, the object store):
    its configured replicas, and how many of them are current."""
    credentials = local_credentials(system.data_dir, OPERATOR)
    nc = await nats.connect(
        servers=[node.url for node in system.cluster.nodes], **connect_options(credentials)
    )
    try:
        js = nc.jetstream()
        found = {}
        for info in await js.streams_info():
            cluster = info.cluster
            peers = [cluster.leader] if cluster and cluster.leader else []
            peers += [p.name for p in (cluster.replicas or []) if p.current] if cluster else []
            found[info.config.name or ""] = (info.config.num_replicas or 1, len(peers))
        return found
    finally:
        await nc.close()


async def test_the_cluster_loses_and_doubles_nothing(
    system: ClusterSystem, client: httpx.AsyncClient
) -> None:
    began = time.monotonic()
    auth = sign_in(system)
    headers = {"Authorization": auth["Authorization"]}
    faults = Faults(system)

    async def strike(op: dict[str, Any]) -> bool:
        if faults.searches is None:
            faults.searches = Searches(client, headers, str(op["collection_id"]))
            faults.searches.start()
        return await faults(op)

    try:
        outcome = await survive(system, client, auth, "cluster", strike, documents=144, words=240)
    finally:
        if faults.searches is not None:
            await faults.searches.stop()

    print(f"\nkilled while indexing {outcome.operation['total']} chunks:")
    for what, progress, back in faults.table:
        print(f"  {what} at {progress} chunks, back in {back:.1f} s")
    assert faults.searches is not None
    answers = faults.searches.answers
    print(
        f"{outcome.events} events, {outcome.reconnections} reconnections, searches "
        f"{dict(answers)}, {time.monotonic() - began:.0f} s"
    )

    # Every stream, KV bucket and the object store kept three current copies.
    replicas = await stream_replicas(system)
    assert {EVENTS_STREAM, WORK_STREAM} <= set(replicas)
    assert {name: r for name, r in replicas.items() if r != (REPLICAS, REPLICAS)} == {}

    # Searches answered throughout: a search in flight on a lost node or gateway is
    # refused with its reason (503, 504 after the gateway's wait) or cut off, never a 500.
    refused = {a for a in answers if a.startswith("5")} - {"503", "504"}
    assert answers["200"] > 0 and not refused, answers
    found = await client.post(
        f"/api/v2/collections/{outcome.collection['id']}/search",
        json={"query": "granite basalt quartz"},
        headers=headers,
    )
    assert found.status_code == 200 and found.json()["results"], found.text
