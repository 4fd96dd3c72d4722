"""The probe endpoint of services without HTTP of their own."""

from __future__ import annotations

import httpx
import pytest
from semantik_runtime.health import HealthServer

pytestmark = pytest.mark.integration


async def test_liveness_readiness_and_a_failing_check_named() -> None:
    state: dict[str, str | None] = {"nats": None}

    async def nats() -> str | None:
        return state["nats"]

    async def store() -> str | None:
        raise ConnectionError("database is down")

    server = HealthServer("ingest", {"nats": nats})
    port = await server.start("127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            alive = await client.get("/health")
            assert (alive.status_code, alive.json()["service"]) == (200, "ingest")
            ready = await client.get("/health/ready")
            assert ready.status_code == 200 and ready.json()["checks"] == {"nats": "ok"}
            state["nats"] = "not connected to NATS"
            server.checks["store"] = store
            down = await client.get("/health/ready")
            assert down.status_code == 503
            assert down.json()["checks"] == {
                "nats": "not connected to NATS",
                "store": "ConnectionError: database is down",
            }
            assert (await client.get("/nope")).status_code == 404
    finally:
        await server.close()
