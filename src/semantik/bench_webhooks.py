"""``semantik bench webhooks``: webhook delivery latency, from an event's commit to its
arrival at the receiver (SPEC §13).

It starts an embedded system of its own (``SEMANTIK_WEBHOOK_ALLOW_PRIVATE=true``: the
receiver listens on loopback), signs in as its operator account, makes a webhook for
every event to a local HTTP receiver (``Receiver``), then creates a collection and
indexes a small generated corpus into it. Each delivery's latency is its arrival time
minus the event's ``timestamp`` (``occurred_at``: when the event was committed to its
service's store), so it spans the outbox relay, JetStream, the webhook's consumer, the
owner's access check and the signed POST. Printed: ``{"deliveries", "latency_p50_ms",
"latency_p95_ms"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .bench_api import write_documents
from .embedded import embedded_system

TERMINAL = ("completed", "failed", "cancelled")
#: Seconds without a new delivery after the operation's end before the count is final.
QUIET_SECONDS = 1.5


@dataclass(frozen=True)
class Arrival:
    """One request the receiver got: its headers (lower-case names), body and when."""

    headers: dict[str, str]
    body: bytes
    at: float  # time.time()

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A small HTTP/1.1 server on 127.0.0.1 that records every request and answers the
    n-th one (from 0) with the status ``answer(n)`` gives (200 unless told), after
    ``delay`` seconds."""

    answer: Callable[[int], int] = lambda _: 200
    #: Seconds each answer waits (a slow receiver).
    delay: float = 0.0
    arrivals: list[Arrival] = field(default_factory=list)
    url: str = ""
    _server: asyncio.Server | None = None
    _open: dict[asyncio.Task[Any], asyncio.StreamWriter] = field(default_factory=dict)

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is None:
            return
        self._server.close()
        # Close the connections the gateway keeps alive: each handler sees the end of
        # its stream and returns, instead of being cancelled with the loop.
        for writer in list(self._open.values()):
            writer.close()
        if self._open:
            await asyncio.wait(list(self._open), timeout=2)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._open[task] = writer
        try:
            while True:  # keep-alive: one request after another on this connection
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status = self.answer(len(self.arrivals))
                self.arrivals.append(Arrival(headers, body, time.time()))
                if self.delay:
                    await asyncio.sleep(self.delay)
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode("latin-1"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._open.pop(task, None)
            writer.close()

    async def wait_for(self, done: Callable[[list[Arrival]], bool], timeout: float) -> None:
        """Until ``done(arrivals)`` holds; AssertionError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not done(self.arrivals):
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.arrivals)} requests arrived, not all awaited")
            await asyncio.sleep(0.05)


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def wait_operation(client: httpx.AsyncClient, operation_id: str, timeout: float) -> str:
    """The operation's final status."""
    deadline = time.monotonic() + timeout
    while True:
        operation = (await client.get(f"/api/v2/operations/{operation_id}")).json()
        if operation["status"] in TERMINAL:
            return str(operation["status"])
        if time.monotonic() > deadline:
            raise RuntimeError(f"operation {operation_id} still {operation['status']}")
        await asyncio.sleep(0.2)


async def measure(
    client: httpx.AsyncClient,
    receiver: Receiver,
    folder: Path,
    documents: int,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Deliveries of one collection's creation and indexing, and their latencies.
    ``client`` is signed in; ``receiver`` is reachable by the gateway."""
    made = await client.post("/api/v2/webhooks", json={"url": receiver.url, "events": ["*"]})
    made.raise_for_status()
    webhook_id = made.json()["id"]
    try:
        name = f"bench-webhooks-{os.urandom(3).hex()}"
        created = await client.post("/api/v2/collections", json={"name": name})
        created.raise_for_status()
        collection_id = str(created.json()["id"])
        write_documents(folder, documents)
        added = await client.post(
            f"/api/v2/collections/{collection_id}/sources", json={"path": str(folder)}
        )
        added.raise_for_status()
        status = await wait_operation(client, added.json()["operation"]["id"], timeout)

        def ours() -> list[Arrival]:
            return [a for a in receiver.arrivals if a.json()["collection_id"] == collection_id]

        ended = {f"Operation{status.capitalize()}"}
        await receiver.wait_for(lambda _: any(a.json()["type"] in ended for a in ours()), timeout)
        count = -1
        while count != len(ours()):  # until no delivery came for QUIET_SECONDS
            count = len(ours())
            await asyncio.sleep(QUIET_SECONDS)
    finally:
        await client.delete(f"/api/v2/webhooks/{webhook_id}")
    first: dict[str, Arrival] = {}
    for arrival in ours():
        first.setdefault(arrival.headers["webhook-id"], arrival)
    latencies = sorted(
        (a.at - datetime.fromisoformat(a.json()["timestamp"]).timestamp()) * 1000
        for a in first.values()
    )
    return {
        "deliveries": len(latencies),
        "repeats": len(ours()) - len(first),
        "operation": status,
        "latency_p50_ms": round(percentile(latencies, 0.5), 1),
        "latency_p95_ms": round(percentile(latencies, 0.95), 1),
    }


async def sign_in(client: httpx.AsyncClient, data_dir: Path) -> None:
    """As the operator account the system's gateway made in ``data_dir``."""
    operator = json.loads((data_dir / "secrets" / "cli_credentials.json").read_text())
    reply = await client.post("/api/v1/auth/login", json=operator)
    reply.raise_for_status()
    client.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"


@contextlib.contextmanager
def allowing_private() -> Iterator[None]:
    """The embedded system's gateway may deliver to loopback (the receiver)."""
    previous = os.environ.get("SEMANTIK_WEBHOOK_ALLOW_PRIVATE")
    os.environ["SEMANTIK_WEBHOOK_ALLOW_PRIVATE"] = "true"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["SEMANTIK_WEBHOOK_ALLOW_PRIVATE"]
        else:
            os.environ["SEMANTIK_WEBHOOK_ALLOW_PRIVATE"] = previous


async def _run(url: str, data_dir: Path, documents: int) -> dict[str, Any]:
    async with Receiver() as receiver, httpx.AsyncClient(base_url=url, timeout=60) as client:
        await sign_in(client, data_dir)
        return await measure(client, receiver, data_dir / "sources" / "bench-webhooks", documents)


def bench_webhooks(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="semantik-bench-webhooks-") as directory:
        data_dir = Path(directory)
        sources = data_dir / "sources"
        sources.mkdir(parents=True)
        with allowing_private(), embedded_system(data_dir, [sources]) as url:
            return asyncio.run(_run(url, data_dir, args.documents))
