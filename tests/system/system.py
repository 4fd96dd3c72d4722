"""Every service of Semantik in this process, as ``semantik run`` composes them, on a
private NATS server, SQLite event stores and the vector store a test gives (Qdrant Edge,
or qdrant-client's local mode standing in for a server). Driven over HTTP through the
real gateway, as a user would."""

from __future__ import annotations

import asyncio
import contextlib
import time
import warnings
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from collections_service.application import CollectionsApplication
from collections_service.bootstrap import build_collections_service
from embedder_service.bootstrap import build_embedder_service
from embedder_service.model import EmbeddingModel
from gateway_service.config import GatewaySettings
from gateway_service.http_app import create_app
from ingest_service.application import IngestApplication
from ingest_service.bootstrap import build_ingest_service
from ingest_service.extraction.pool import ExtractionPool
from ingest_service.sources.roots import SourceRoots
from ingest_service.sources.uploaded import UploadedFiles
from ingest_service.sync.service import build_sync_service
from search_service.app import SearchService
from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env
from semantik_runtime.models import available_infos
from semantik_runtime.vectors import VectorStore
from semantik_runtime.vectors.edge import EdgeVectorStore

from tests.watchdog import stacks


@dataclass
class System:
    client: httpx.AsyncClient
    store: VectorStore
    sources: Path
    headers: dict[str, str] = field(default_factory=dict)
    #: The running services, in start order: collections, ingest, embedders, search.
    services: list[Any] = field(default_factory=list)

    async def call(self, method: str, url: str, **options: Any) -> Any:
        reply = await self.client.request(method, url, headers=self.headers, **options)
        assert reply.status_code < 300, f"{method} {url}: {reply.status_code} {reply.text}"
        return reply.json()

    async def login(self, username: str = "ada") -> None:
        body = {"username": username, "password": "correct horse battery"}
        await self.client.post("/api/v1/auth/register", json=body)
        reply = await self.client.post("/api/v1/auth/login", json=body)
        assert reply.status_code == 200, reply.text
        self.headers = {"Authorization": f"Bearer {reply.json()['access_token']}"}

    async def operation_done(self, operation_id: str, timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            op: dict[str, Any] = await self.call("GET", f"/api/v2/operations/{operation_id}")
            if op["status"] in ("completed", "failed", "cancelled"):
                return op
            assert time.monotonic() < deadline, f"operation still {op['status']}: {op}"
            await asyncio.sleep(0.1)

    async def indexed_collection(self, name: str, files: dict[str, str]) -> dict[str, Any]:
        """A collection holding ``files`` (written under its own folder), indexed."""
        folder = self.sources / name
        folder.mkdir(parents=True)
        for file_name, text in files.items():
            (folder / file_name).write_text(text)
        collection = await self.call("POST", "/api/v2/collections", json={"name": name})
        added = await self.call(
            "POST", f"/api/v2/collections/{collection['id']}/sources", json={"path": str(folder)}
        )
        done = await self.operation_done(added["operation"]["id"])
        assert done["status"] == "completed", done
        result: dict[str, Any] = await self.call("GET", f"/api/v2/collections/{collection['id']}")
        return result


#: How long one service or bus of a test's system may take to close.
CLOSE_SECONDS = 60.0


async def close_within(what: str, closing: Awaitable[Any], seconds: float = CLOSE_SECONDS) -> None:
    """Await ``closing``; past ``seconds``, warn with the event loop's tasks (where the
    close waits) and go on, so that a close that hangs says where and costs one test's
    teardown a minute instead of the run. (A CI run once hung after a system test had
    passed, with nothing to say where.)"""
    task = asyncio.ensure_future(closing)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if done:
        task.result()
        return
    warnings.warn(f"{what} did not close within {seconds:g} s:\n{stacks()}", stacklevel=2)
    task.cancel()
    await asyncio.wait({task}, timeout=5)


@contextlib.asynccontextmanager
async def running_system(
    tmp_path: Path,
    nats_url: str,
    store: VectorStore,
    models: list[EmbeddingModel],
    models_dir: Path,
    pool: ExtractionPool,
    **collections_options: Any,
) -> AsyncIterator[System]:
    """Start collections, ingest, an embedder per model, search and the gateway."""
    stop = asyncio.Event()
    buses: list[Bus] = []
    services: list[Any] = []

    async def bus(name: str) -> Bus:
        buses.append(await Bus.connect(nats_url, name))
        return buses[-1]

    sources = tmp_path / "sources"
    sources.mkdir()
    collections_app = CollectionsApplication(
        env=event_store_env("collections", None, tmp_path / "collections"),
        find_models=lambda: available_infos(models_dir),
    )
    ingest_app = IngestApplication(env=event_store_env("ingest", None, tmp_path / "ingest"))
    services.append(
        build_collections_service(
            collections_app,
            await bus("collections"),
            operation_timeout_seconds=600,
            progress_interval_seconds=0.2,
            **collections_options,
        )
    )
    ingest_bus = await bus("ingest")
    services.append(
        build_ingest_service(
            ingest_app,
            ingest_bus,
            SourceRoots([sources]),
            pool,
            UploadedFiles(ingest_bus, tmp_path / "uploads"),
            max_file_bytes=1 << 20,
            embed_max_pending=2000,
        )
    )
    services.append(build_sync_service(ingest_bus, SourceRoots([sources]), lease_seconds=3.0))
    for model in models:
        services.append(
            build_embedder_service(
                await bus("embedder"), store, model, batch_chunks=32, optimize_after=1.0
            )
        )
    services.append(SearchService(await bus("search"), store))
    gateway_bus = await bus("gateway")
    settings = GatewaySettings(
        data_dir=tmp_path / "gateway", nats_url=nats_url, database_url=None, jwt_secret=None
    )
    app = create_app(settings, gateway_bus)
    try:
        for service in services:
            await service.start(stop)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            system = System(client, store, sources, services=services)
            await system.login()
            yield system
    finally:
        stop.set()
        for service in reversed(services):
            with contextlib.suppress(Exception):
                await close_within(type(service).__name__, service.close())
        for each in buses:
            await close_within(f"the bus of {each.name}", each.close())
        collections_app.close()
        ingest_app.close()
        app.state.context.users.close()


@contextlib.asynccontextmanager
async def edge_system(
    tmp_path: Path,
    nats_url: str,
    model: EmbeddingModel,
    models_dir: Path,
    pool: ExtractionPool,
) -> AsyncIterator[System]:
    """``running_system`` over a Qdrant Edge store of its own in ``tmp_path``, one model."""
    store = EdgeVectorStore(tmp_path / "qdrant")
    try:
        async with running_system(tmp_path, nats_url, store, [model], models_dir, pool) as running:
            yield running
    finally:
        store.close()
