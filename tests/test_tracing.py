"""One request, one trace: gateway → collections → ingest → embedder (SPEC §2).

The real services run in this process, each on its own NATS connection as separate
processes would, and their spans go to an in-memory exporter. Adding a source over
HTTP must leave spans of all four services under the trace id of that HTTP request,
carried between them only by ``traceparent`` headers on the bus and by the trace
stored with each event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from collections_service.application import CollectionsApplication
from collections_service.bootstrap import build_collections_service
from embedder_service.bootstrap import build_embedder_service
from embedder_service.model import load_model
from gateway_service.config import GatewaySettings
from gateway_service.http_app import create_app
from ingest_service.application import IngestApplication
from ingest_service.bootstrap import build_ingest_service
from ingest_service.extraction.pool import ExtractionPool
from ingest_service.sources.roots import SourceRoots
from ingest_service.sources.uploaded import UploadedFiles
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env
from semantik_runtime.telemetry import SERVICE_ATTRIBUTE, configure_tracing
from semantik_runtime.vectors.edge import EdgeVectorStore

pytestmark = pytest.mark.integration

SERVICES = ("gateway", "collections", "ingest", "embedder")


@pytest.fixture
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    configure_tracing("semantik-test", None, SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
async def system(tmp_path: Path, private_nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Collections, ingest and an embedder (real model, Qdrant Edge) behind the gateway."""
    url = private_nats_url
    buses = {name: await Bus.connect(url, name) for name in SERVICES}
    await buses["collections"].ensure_streams()
    stop = asyncio.Event()
    collections_app = CollectionsApplication(env=event_store_env("collections", None, tmp_path))
    ingest_app = IngestApplication(env=event_store_env("ingest", None, tmp_path))
    store = EdgeVectorStore(tmp_path / "qdrant")
    pool = ExtractionPool(1, niceness=0)
    model = await asyncio.to_thread(load_model, device="cpu")
    services: list[Any] = [
        build_collections_service(
            collections_app, buses["collections"], operation_timeout_seconds=600
        ),
        build_ingest_service(
            ingest_app,
            buses["ingest"],
            SourceRoots([tmp_path / "sources"]),
            pool,
            UploadedFiles(buses["ingest"], tmp_path / "uploads"),
            max_file_bytes=1 << 20,
            embed_max_pending=1000,
        ),
        build_embedder_service(buses["embedder"], store, model, batch_chunks=16),
    ]
    for service in services:
        await service.start(stop)
    settings = GatewaySettings(data_dir=tmp_path / "gateway", nats_url=url, database_url=None)
    app = create_app(settings, buses["gateway"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client
    stop.set()
    for service in reversed(services):
        await service.close()
    for bus in buses.values():
        await bus.close()
    for resource in (collections_app, ingest_app, store, pool, app.state.context.users):
        resource.close()


async def test_adding_a_source_is_one_trace_across_the_services(
    system: httpx.AsyncClient, spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    docs = tmp_path / "sources" / "docs"
    docs.mkdir(parents=True)
    (docs / "nats.md").write_text("NATS JetStream keeps every event of Semantik.\n" * 20)
    (docs / "qdrant.txt").write_text("Qdrant stores the vectors of each chunk.\n" * 20)
    account = {"username": "tracer", "password": "correct horse"}
    await system.post("/api/v1/auth/register", json=account)
    login = await system.post("/api/v1/auth/login", json=account)
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    created = await system.post("/api/v2/collections", json={"name": "traced"}, headers=auth)
    collection = created.json()["id"]
    spans.clear()

    added = await system.post(
        f"/api/v2/collections/{collection}/sources", json={"path": str(docs)}, headers=auth
    )
    assert added.status_code == 202, added.text
    operation = f"/api/v2/operations/{added.json()['operation']['id']}"
    async with asyncio.timeout(120):
        while (await system.get(operation, headers=auth)).json()["status"] != "completed":  # noqa: ASYNC110 - polling the API as a client does
            await asyncio.sleep(0.2)

    route = "POST /api/v2/collections/{collection_id}/sources"
    [request] = [s for s in spans.get_finished_spans() if s.name == route]
    assert request.context is not None
    trace_id = request.context.trace_id
    in_trace = [
        s for s in spans.get_finished_spans() if s.context and s.context.trace_id == trace_id
    ]
    by_service: dict[str, set[str]] = {}
    for span in in_trace:
        by_service.setdefault(str((span.attributes or {}).get(SERVICE_ATTRIBUTE)), set()).add(
            span.name
        )
    assert set(SERVICES) <= set(by_service), by_service
    # The hops a reader of the trace follows, each in the service that made it.
    assert route in by_service["gateway"]
    assert "handle semantik.cmd.collections.AddSource" in by_service["collections"]
    assert "process OperationRequested" in by_service["ingest"]
    assert any(name.startswith("embed ") for name in by_service["embedder"])
    assert "process ChunksEmbedded" in by_service["collections"]
