"""The gateway with other services behind it (so in ``tests/``, not the gateway's own
tests): over real parts: a private nats-server with JetStream (the root
conftest's ``private_nats_url``), the real collections service on a SQLite event store,
and small stand-ins only for what other services answer (ingest's ``ValidateSource``,
the vector count, search)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import uvicorn
from collections_service.application import CollectionsApplication
from collections_service.bootstrap import build_collections_service
from fastapi import FastAPI
from gateway_service.http_app import create_app
from semantik_contracts import ErrorCode, SourceKind
from semantik_contracts.commands import ValidatedSource, ValidateSource
from semantik_contracts.search import Search, SearchResponse
from semantik_contracts.subjects import INGEST, SEARCH_RPC, VECTOR_COUNT_RPC, command_subject
from semantik_contracts.work import CountVectors, VectorCount
from semantik_runtime.bus import Bus
from semantik_runtime.errors import CommandError
from semantik_runtime.eventstore import event_store_env
from websockets.asyncio.client import ClientConnection

from services.gateway.tests.settings import gateway_settings
from tests.services import free_port

Frame = dict[str, Any]


@dataclass
class Stack:
    """Everything a test drives: the HTTP client and the parts behind it."""

    app: FastAPI
    client: httpx.AsyncClient
    bus: Bus
    embedder: Bus
    sources: Path
    vector_counts: dict[UUID, int] = field(default_factory=dict)
    searches: list[Search] = field(default_factory=list)

    async def status(
        self, method: str, url: str, headers: dict[str, str] | None = None, json: Any = None
    ) -> int:
        """The HTTP status of one request (``json`` is sent as the body when given)."""
        reply = await self.client.request(method, url, headers=headers, json=json)
        return reply.status_code

    async def login(self, username: str, password: str = "correct horse") -> dict[str, str]:
        """Register (if new) and log in; the Authorization header of that user."""
        await self.client.post(
            "/api/v1/auth/register", json={"username": username, "password": password}
        )
        reply = await self.client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert reply.status_code == 200, reply.text
        return {"Authorization": f"Bearer {reply.json()['access_token']}"}

    async def create_collection(self, headers: dict[str, str], name: str) -> dict[str, Any]:
        reply = await self.client.post("/api/v2/collections", json={"name": name}, headers=headers)
        assert reply.status_code == 201, reply.text
        body: dict[str, Any] = reply.json()
        return body


async def serve_stand_ins(
    stack_bus: Bus,
    embedder: Bus,
    vector_counts: dict[UUID, int],
    searches: list[Search],
    *,
    validate_sources: bool = True,
) -> None:
    def check(path: Path) -> ValidatedSource:
        if not path.exists():
            raise CommandError(ErrorCode.INVALID, f"{path} does not exist")
        kind = SourceKind.DIRECTORY if path.is_dir() else SourceKind.FILE
        return ValidatedSource(path=str(path.resolve()), kind=kind)

    async def validate(request: ValidateSource) -> ValidatedSource:
        if request.path.startswith("upload://"):  # ingest fetches it from the object store
            return ValidatedSource(path=request.path, kind=SourceKind.UPLOAD)
        return await asyncio.to_thread(check, Path(request.path))

    async def count(request: CountVectors) -> VectorCount:
        return VectorCount(count=vector_counts.get(request.collection_id, 0))

    async def search(request: Search) -> SearchResponse:
        searches.append(request)
        return SearchResponse(results=[], warnings=["stand-in search"], took_ms=1.0)

    if validate_sources:
        await stack_bus.serve(
            command_subject(INGEST, "ValidateSource"), ValidateSource, validate, queue="ingest"
        )
    await stack_bus.serve(SEARCH_RPC, Search, search, queue="search")
    await embedder.serve(VECTOR_COUNT_RPC, CountVectors, count, queue="vectors")


@pytest.fixture
def nats_url(private_nats_url: str) -> str:
    """Each test gets a server of its own: its streams hold that test's events only."""
    return private_nats_url


@pytest.fixture
async def stack(tmp_path: Path, nats_url: str) -> AsyncIterator[Stack]:
    collections_bus = await Bus.connect(nats_url, "collections")
    collections = CollectionsApplication(
        env=event_store_env("collections", None, tmp_path), max_collections_per_user=3
    )
    service = build_collections_service(
        collections, collections_bus, operation_timeout_seconds=3600
    )
    stop = asyncio.Event()
    await service.start(stop)
    embedder = await Bus.connect(nats_url, "embedder")
    bus = await Bus.connect(nats_url, "gateway")
    app = create_app(gateway_settings(tmp_path, nats_url), bus)
    sources = tmp_path / "sources"
    (sources / "a").mkdir(parents=True)
    (sources / "b").mkdir()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        stack = Stack(app=app, client=client, bus=bus, embedder=embedder, sources=sources)
        await serve_stand_ins(collections_bus, embedder, stack.vector_counts, stack.searches)
        yield stack
    stop.set()
    await service.close()
    for each in (bus, embedder, collections_bus):
        await each.close()
    collections.close()
    app.state.context.users.close()


@pytest.fixture
async def ws_url(stack: Stack) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        stack.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
    yield f"ws://127.0.0.1:{port}/ws"
    server.should_exit = True
    await task


async def read_until(ws: ClientConnection, done: Callable[[Frame], bool]) -> list[Frame]:
    """Every frame up to and including the first for which ``done`` is true."""
    frames: list[Frame] = []
    async with asyncio.timeout(10):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "heartbeat":
                continue
            frames.append(frame)
            if done(frame):
                return frames


def token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")
