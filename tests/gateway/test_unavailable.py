"""What clients see when the services behind the gateway are missing: 503, never 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from gateway_service.http_app import create_app
from semantik_runtime.bus import Bus

from .conftest import gateway_settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def lonely(tmp_path: Path, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway on the bus with nothing else running."""
    bus = await Bus.connect(nats_url, "gateway")
    app = create_app(gateway_settings(tmp_path, nats_url), bus)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as client:
        yield client
    await bus.close()
    app.state.context.users.close()


async def test_a_missing_collections_service_is_503(lonely: httpx.AsyncClient) -> None:
    creds = {"username": "alice", "password": "correct horse"}
    await lonely.post("/api/v1/auth/register", json=creds)
    token = (await lonely.post("/api/v1/auth/login", json=creds)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    listed = await lonely.get("/api/v2/collections", headers=headers)
    assert listed.status_code == 503 and "no service answers" in listed.json()["detail"]
    ready = await lonely.get("/health/ready")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["nats"] == "ok" and checks["collections"] != "ok"
    assert checks["search"] == "nothing answers semantik.rpc.search"
    assert (await lonely.get("/health")).status_code == 200


async def test_not_yet_connected_is_503(tmp_path: Path) -> None:
    app = create_app(gateway_settings(tmp_path, "nats://127.0.0.1:1"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as client:
        ready = await client.get("/health/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["nats"] != "ok"
    app.state.context.users.close()


async def test_the_bus_is_described_without_any_service(lonely: httpx.AsyncClient) -> None:
    document = await lonely.get("/api/asyncapi.json")
    assert document.status_code == 200
    body = document.json()
    assert body["asyncapi"] == "3.0.0"
    assert "OperationProgressed" in body["components"]["schemas"]
    addresses = {channel["address"] for channel in body["channels"].values()}
    assert "semantik.rpc.search" in addresses
    openapi = (await lonely.get("/openapi.json")).json()
    assert "/api/v2/collections" in openapi["paths"]
    assert (await lonely.get("/docs")).status_code == 200
