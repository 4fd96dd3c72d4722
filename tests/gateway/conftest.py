"""The gateway with other services behind it (so in ``tests/``, not the gateway's own
tests): over real parts: a private nats-server with JetStream (the root
conftest's ``private_nats_url``), the real collections service on a SQLite event store,
and small stand-ins only for what other services answer (ingest's ``ValidateSource``,
the vector count, search)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher, profiles
from collections_service.application import CollectionsApplication
from collections_service.bootstrap import build_collections_service
from fastapi import FastAPI
from gateway_service import security
from gateway_service.http_app import create_app
from semantik_contracts.search import Search
from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env
from websockets.asyncio.client import ClientConnection

from services.gateway.tests.settings import gateway_settings
from tests.services import free_port

from .served import ServedGateway, serve_stand_ins, served_gateway

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


@pytest.fixture(autouse=True, scope="module")
def cheap_password_hashes() -> Iterator[None]:
    """Passwords hashed with argon2 at its cheapest (argon2-cffi's profile for tests):
    nearly every test here signs in, and each sign-up and sign-in spent about 0.3 s of
    CPU in argon2 at the gateway's cost, which no test here is about (the gateway's own
    test_security.py checks its hasher). Verifying reads the cost from the hash, so the
    code that checks a password is the gateway's own; restored after each module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(security, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
        yield


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


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    with served_gateway(tmp_path_factory.mktemp("edges")) as gateway:
        yield gateway


@pytest.fixture
async def client(served: ServedGateway) -> Any:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        http.headers["X-Test-Roots"] = str(served.roots)  # read by sign_in, not the server
        http.headers["X-Test-Secrets"] = str(served.gateway_data / "secrets")
        yield http
