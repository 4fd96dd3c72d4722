"""``semantik bench core``: throughput of the event-sourced core (SPEC §10).

Two figures, on SQLite (the embedded default) or PostgreSQL (``--database-url``):
- relay: events/s the outbox relay publishes to SEMANTIK_EVENTS, each acknowledged by
  JetStream before its position is recorded;
- commands: commands/s through the collections service over NATS request/reply, from
  several concurrent clients (each command saved with its audit entry, the read model
  updated and the relay woken, as in production).
It starts a private nats-server, and works in a temporary directory or schema that it
removes afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from collections_service.application import CollectionsApplication
from collections_service.bootstrap import build_collections_service
from semantik_contracts import commands
from semantik_contracts.subjects import COLLECTIONS, command_subject
from semantik_contracts.views import CollectionView
from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env
from semantik_runtime.relay import OutboxRelay

from .supervisor import free_port, wait_for_port


@contextlib.contextmanager
def private_nats(workdir: Path) -> Iterator[str]:
    port = free_port()
    binary = Path(sys.executable).parent / "nats-server"
    store = workdir / "nats"
    args = [str(binary), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_for_port(port, server, 15):
            raise RuntimeError(f"nats-server did not start on port {port}")
        yield f"nats://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


@contextlib.contextmanager
def event_store(workdir: Path, database_url: str | None) -> Iterator[dict[str, str]]:
    if not database_url:
        yield event_store_env("collections", None, workdir)
        return
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in database_url else "?"
    try:
        yield event_store_env("collections", f"{database_url}{separator}schema={schema}", workdir)
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def measure_relay(app: CollectionsApplication, bus: Bus, collections: int) -> dict[str, Any]:
    """Record ``collections`` create+update commands, then time the relay publishing them."""
    for n in range(collections):
        actor = f"relay-user-{n // 10}"
        view = app.create_collection(commands.CreateCollection(actor=actor, name=f"c{n}"))
        app.update_collection(
            commands.UpdateCollection(actor=actor, collection_id=view.id, description="bench")
        )
    relay = OutboxRelay(app, bus, batch=500)
    before = (await bus.js.stream_info("SEMANTIK_EVENTS")).state.messages
    began = time.perf_counter()
    while await relay.publish_pending():
        pass
    seconds = time.perf_counter() - began
    published = (await bus.js.stream_info("SEMANTIK_EVENTS")).state.messages - before
    return {"events": published, "seconds": round(seconds, 3), "per_s": round(published / seconds)}


async def measure_commands(
    app: CollectionsApplication, bus: Bus, client: Bus, count: int, concurrency: int
) -> dict[str, Any]:
    """``count`` UpdateCollection commands from ``concurrency`` clients at once."""
    stop = asyncio.Event()
    service = build_collections_service(app, bus, operation_timeout_seconds=3600)
    await service.start(stop)
    await bus.nc.flush()  # its subscriptions are on the server before the first request
    try:
        create = command_subject(COLLECTIONS, "CreateCollection")
        for _ in range(50):  # the client's own connection sees the service's interest
            if await client.answers(create) is None:
                break
            await asyncio.sleep(0.1)
        update = command_subject(COLLECTIONS, "UpdateCollection")
        targets = [
            await client.request(
                create, commands.CreateCollection(actor=f"cmd-user-{n}", name="c"), CollectionView
            )
            for n in range(concurrency)
        ]

        async def one_client(view: CollectionView, n: int) -> None:
            for i in range(n):
                cmd = commands.UpdateCollection(
                    actor=view.owner, collection_id=view.id, description=f"rev {i}"
                )
                await client.request(update, cmd, CollectionView, timeout=30)

        per_client = max(1, count // concurrency)
        began = time.perf_counter()
        await asyncio.gather(*(one_client(view, per_client) for view in targets))
        seconds = time.perf_counter() - began
    finally:
        stop.set()
        await service.close()
    done = per_client * concurrency
    return {
        "commands": done,
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "per_s": round(done / seconds),
    }


@contextlib.asynccontextmanager
async def buses(nats_url: str) -> AsyncIterator[tuple[Bus, Bus]]:
    service, client = await Bus.connect(nats_url, "bench"), await Bus.connect(nats_url, "client")
    try:
        await service.ensure_streams()
        yield service, client
    finally:
        await service.close()
        await client.close()


async def bench_core(
    database_url: str | None, collections: int = 1000, count: int = 2000, concurrency: int = 16
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="semantik-bench-") as tmp:
        workdir = Path(tmp)
        with private_nats(workdir) as nats_url, event_store(workdir, database_url) as env:
            async with buses(nats_url) as (bus, client):
                app = CollectionsApplication(env=env)
                try:
                    relay = await measure_relay(app, bus, collections)
                    sent = await measure_commands(app, bus, client, count, concurrency)
                finally:
                    app.close()
    return {
        "store": "postgresql" if database_url else "sqlite",
        "relay_events_per_s": relay["per_s"],
        "commands_per_s": sent["per_s"],
        "relay": relay,
        "commands": sent,
    }
