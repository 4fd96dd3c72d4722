"""Prometheus metrics of a service: served on its health port, fed by the events it
publishes and by JetStream's view of the embed consumers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import pytest
from nats.js import api
from prometheus_client import REGISTRY
from semantik_contracts import EventEnvelope, OperationType
from semantik_contracts.events import (
    AnyEvent,
    DocumentFailed,
    DocumentRegistered,
    OperationCompleted,
    OperationRequested,
    OperationStarted,
)
from semantik_contracts.subjects import WORK_STREAM, embed_consumer_name, embed_work_subject
from semantik_contracts.work import EmbedChunks
from semantik_runtime.bus import Bus
from semantik_runtime.health import HealthServer
from semantik_runtime.metrics import observe_consumer_lag

pytestmark = pytest.mark.integration


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def envelope(aggregate_id: UUID, version: int, event: AnyEvent, at: datetime) -> EventEnvelope:
    return EventEnvelope(
        event_id=f"{aggregate_id}:{version}",
        aggregate_type="operation",
        aggregate_id=aggregate_id,
        version=version,
        occurred_at=at,
        event=event,
    )


async def test_published_events_count_operations_documents_and_chunks(bus: Bus) -> None:
    collection, operation = uuid4(), uuid4()
    ids = {"collection_id": collection, "operation_id": operation}
    before = {
        "pending": sample("semantik_operations_total", type="append", status="pending"),
        "processing": sample("semantik_operations_total", type="append", status="processing"),
        "completed": sample("semantik_operations_total", type="append", status="completed"),
        "durations": sample(
            "semantik_operation_duration_seconds_count", type="append", status="completed"
        ),
        "seconds": sample(
            "semantik_operation_duration_seconds_sum", type="append", status="completed"
        ),
        "registered": sample("semantik_documents_total", outcome="registered"),
        "failed": sample("semantik_documents_total", outcome="failed"),
        "chunks": sample("semantik_chunks_total"),
    }
    start = datetime.now(UTC)
    requested = OperationRequested(**ids, operation_type=OperationType.APPEND, requested_by="u1")
    await bus.publish_event(envelope(operation, 1, requested, start))
    await bus.publish_event(envelope(operation, 2, OperationStarted(**ids), start))
    document = DocumentRegistered(
        **ids,
        document_id=uuid4(),
        source_id=uuid4(),
        path="/docs/a.md",
        sha256="0" * 64,
        size=10,
        mime="text/markdown",
        chunk_count=7,
    )
    await bus.publish_event(envelope(document.document_id, 1, document, start))
    broken = DocumentFailed(**ids, source_id=uuid4(), path="/docs/b.pdf", reason="encrypted")
    await bus.publish_event(envelope(uuid4(), 1, broken, start))
    done = OperationCompleted(**ids)
    await bus.publish_event(envelope(operation, 3, done, start + timedelta(seconds=42)))

    assert sample("semantik_operations_total", type="append", status="pending") == (
        before["pending"] + 1
    )
    assert sample("semantik_operations_total", type="append", status="processing") == (
        before["processing"] + 1
    )
    assert sample("semantik_operations_total", type="append", status="completed") == (
        before["completed"] + 1
    )
    durations = "semantik_operation_duration_seconds"
    assert sample(f"{durations}_count", type="append", status="completed") == (
        before["durations"] + 1
    )
    assert sample(f"{durations}_sum", type="append", status="completed") == pytest.approx(
        before["seconds"] + 42
    )
    assert sample("semantik_documents_total", outcome="registered") == before["registered"] + 1
    assert sample("semantik_documents_total", outcome="failed") == before["failed"] + 1
    assert sample("semantik_chunks_total") == before["chunks"] + 7


async def test_the_health_port_serves_metrics_with_the_embed_lag_per_model(bus: Bus) -> None:
    slug = "lag-test-model"
    await bus.js.add_consumer(
        WORK_STREAM,
        api.ConsumerConfig(
            durable_name=embed_consumer_name(slug),
            filter_subject=embed_work_subject(slug),
            ack_policy=api.AckPolicy.EXPLICIT,
        ),
    )
    for n in range(3):
        work = EmbedChunks(
            work_id=f"lag-{n}",
            operation_id=uuid4(),
            collection_id=uuid4(),
            generation=1,
            model=slug,
            document_id=uuid4(),
            chunks=[],
        )
        await bus.publish_work(embed_work_subject(slug), work, msg_id=f"lag-{n}")

    server = HealthServer("embedder", {}, scrape=lambda: observe_consumer_lag(bus.js))
    port = await server.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            scraped = await client.get("/metrics")
    finally:
        await server.close()
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert f'semantik_embed_consumer_pending{{model="{slug}"}} 3.0' in scraped.text
    assert f'semantik_embed_consumer_ack_pending{{model="{slug}"}} 0.0' in scraped.text
    for documented in (
        "semantik_bus_request_duration_seconds",
        "semantik_operations_total",
        "semantik_embedded_chunks_total",
        "semantik_embed_batch_duration_seconds",
    ):
        assert f"# TYPE {documented}" in scraped.text
