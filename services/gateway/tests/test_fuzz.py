"""schemathesis against the gateway's own OpenAPI schema: whatever a client sends to any
operation, the answer is never a server error.

The gateway runs as a real HTTP server (uvicorn, in a thread with its own event loop)
before the real collections and ingest services, with the stand-ins of ``conftest`` for
the vector count and search; requests carry a valid access token, so they reach past
authentication.
Examples per operation are bounded to keep the run short.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from collections_service.app import CollectionsService
from collections_service.application import CollectionsApplication
from gateway_service.main import create_app
from hypothesis import HealthCheck, settings
from ingest_service.app import IngestService
from ingest_service.application import IngestApplication
from ingest_service.pool import ExtractionPool
from ingest_service.sources import SourceRoots
from ingest_service.uploaded import UploadedFiles
from schemathesis.checks import not_a_server_error
from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env

from tests.services import free_port, private_nats

from .conftest import gateway_settings, serve_stand_ins

pytestmark = pytest.mark.integration

ACCOUNT = {"username": "fuzzer", "password": "correct horse"}


async def serve(data: Path, nats_url: str, port: int, up: threading.Event, down: Any) -> None:
    """The gateway and the services behind it, until ``down["stop"]`` is set."""
    stop = asyncio.Event()
    down.update(loop=asyncio.get_running_loop(), stop=stop)
    names = ("collections", "ingest", "vectors", "gateway")
    buses = [await Bus.connect(nats_url, name) for name in names]
    collections = CollectionsApplication(env=event_store_env("collections", None, data))
    ingest = IngestApplication(env=event_store_env("ingest", None, data))
    pool = ExtractionPool(1, niceness=0)
    services = [
        CollectionsService(collections, buses[0], operation_timeout_seconds=3600),
        IngestService(
            ingest,
            buses[1],
            SourceRoots([data]),
            pool,
            UploadedFiles(buses[1], data / "uploads"),
            max_file_bytes=1 << 20,
            embed_max_pending=100,
        ),
    ]
    for service in services:
        await service.start(stop)
    await serve_stand_ins(buses[2], buses[2], {}, [], validate_sources=False)
    settings_ = gateway_settings(data, nats_url, auth_rate_per_minute=0, search_rate_per_minute=0)
    app = create_app(settings_, buses[3])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    up.set()
    await stop.wait()
    server.should_exit = True
    await serving
    for service in reversed(services):
        await service.close()
    for bus in buses:
        await bus.close()
    for store in (collections, ingest, pool, app.state.context.users):
        store.close()


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    up, down = threading.Event(), dict[str, Any]()
    with private_nats() as nats_url:
        thread = threading.Thread(
            target=lambda: asyncio.run(serve(data, nats_url, port, up, down)), daemon=True
        )
        thread.start()
        assert up.wait(30), "the gateway did not start"
        yield f"http://127.0.0.1:{port}"
        down["loop"].call_soon_threadsafe(down["stop"].set)
        thread.join(30)


@pytest.fixture(scope="module")
def access(gateway_url: str) -> dict[str, str]:
    """A signed-in user who owns one collection."""
    with httpx.Client(base_url=gateway_url) as client:
        client.post("/api/v1/auth/register", json=ACCOUNT)
        token = client.post("/api/v1/auth/login", json=ACCOUNT).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        client.post("/api/v2/collections", json={"name": "fuzzed"}, headers=headers)
    return headers


def openapi_document() -> dict[str, Any]:
    """The gateway's OpenAPI document, as it serves it at ``/openapi.json``."""
    with tempfile.TemporaryDirectory() as data:
        app = create_app(gateway_settings(Path(data), "nats://127.0.0.1:1"))
        try:
            return app.openapi()
        finally:
            app.state.context.users.close()


# Readiness answers 503 by design here (no embedder runs); its own tests cover it.
schema = schemathesis.openapi.from_dict(openapi_document()).exclude(path="/health/ready")


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_is_a_server_error(
    case: schemathesis.Case, gateway_url: str, access: dict[str, str]
) -> None:
    response = case.call(base_url=gateway_url, headers=access, timeout=15)
    case.validate_response(response, checks=[not_a_server_error])
