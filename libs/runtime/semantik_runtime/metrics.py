"""Prometheus metrics of every Semantik process (names documented in README.md).

Each process serves its own registry: the gateway at ``/metrics`` on its HTTP port,
every other service at ``/metrics`` on its health port. Domain counters are counted
where the events are published (``observe_event``): collections publishes operation
events, ingest document events, the embedder ``ChunksEmbedded``; so each is counted
once, by the process that made it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import datetime

from nats.js import JetStreamContext
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from semantik_contracts import EventEnvelope
from semantik_contracts.events import (
    DocumentFailed,
    DocumentRegistered,
    DocumentSkipped,
    OperationCancelled,
    OperationCompleted,
    OperationFailed,
    OperationRequested,
    OperationStarted,
)
from semantik_contracts.subjects import WORK_STREAM, embed_work_subject

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600)

HTTP_REQUEST_SECONDS = Histogram(
    "semantik_http_request_duration_seconds",
    "Gateway HTTP request latency, by route template",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
BUS_REQUEST_SECONDS = Histogram(
    "semantik_bus_request_duration_seconds",
    "Latency of requests this process sent over NATS request/reply, by subject",
    ["subject", "outcome"],
    buckets=LATENCY_BUCKETS,
)
BUS_HANDLER_SECONDS = Histogram(
    "semantik_bus_handler_duration_seconds",
    "Time this process took to answer a NATS request, by subject",
    ["subject", "outcome"],
    buckets=LATENCY_BUCKETS,
)
OPERATIONS = Counter(
    "semantik_operations_total",
    "Operation status transitions, by operation type and the status entered",
    ["type", "status"],
)
OPERATION_SECONDS = Histogram(
    "semantik_operation_duration_seconds",
    "Operation duration from request to its end, by type and final status",
    ["type", "status"],
    buckets=DURATION_BUCKETS,
)
DOCUMENTS = Counter(
    "semantik_documents_total",
    "Documents processed by ingest: registered, skipped (duplicate/unchanged) or failed",
    ["outcome"],
)
CHUNKS = Counter("semantik_chunks_total", "Chunks produced by ingest for embedding")
EMBEDDED_CHUNKS = Counter(
    "semantik_embedded_chunks_total", "Chunks encoded and written by embedders", ["model"]
)
EMBED_BATCH_SECONDS = Histogram(
    "semantik_embed_batch_duration_seconds",
    "Time to encode one batch of chunks",
    ["model"],
    buckets=LATENCY_BUCKETS,
)
FRESHNESS_SECONDS = Histogram(
    "semantik_freshness_seconds",
    "Seconds from a file's write (its mtime; a deletion: when it was seen) to its chunks "
    "being searchable (the operation that indexed it completed), by trigger",
    ["trigger"],
    buckets=(0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0),
)
CONSUMER_PENDING = Gauge(
    "semantik_embed_consumer_pending",
    "Embed work messages not yet delivered to any embedder (JetStream consumer lag)",
    ["model"],
)
CONSUMER_ACK_PENDING = Gauge(
    "semantik_embed_consumer_ack_pending",
    "Embed work messages delivered and not yet acknowledged",
    ["model"],
)

_TERMINAL: dict[str, str] = {
    "OperationCompleted": "completed",
    "OperationFailed": "failed",
    "OperationCancelled": "cancelled",
}


class _OperationClock:
    """When each recent operation was requested, and its type, for the duration metric."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._started: OrderedDict[str, tuple[str, datetime]] = OrderedDict()

    def requested(self, operation_id: str, kind: str, at: datetime) -> None:
        self._started[operation_id] = (kind, at)
        while len(self._started) > self.capacity:
            self._started.popitem(last=False)

    def kind(self, operation_id: str) -> str:
        return self._started.get(operation_id, ("unknown", None))[0]

    def ended(self, operation_id: str) -> tuple[str, datetime] | None:
        return self._started.pop(operation_id, None)


_clock = _OperationClock()
_EMBED_PREFIX = embed_work_subject("")


def observe_event(envelope: EventEnvelope) -> None:
    """Count a published event in the domain metrics it feeds."""
    event = envelope.event
    if isinstance(event, OperationRequested):
        kind = event.operation_type.value
        _clock.requested(str(event.operation_id), kind, envelope.occurred_at)
        OPERATIONS.labels(kind, "pending").inc()
    elif isinstance(event, OperationStarted):
        OPERATIONS.labels(_clock.kind(str(event.operation_id)), "processing").inc()
    elif isinstance(event, OperationCompleted | OperationFailed | OperationCancelled):
        status = _TERMINAL[event.type]
        started = _clock.ended(str(event.operation_id))
        kind = started[0] if started else "unknown"
        OPERATIONS.labels(kind, status).inc()
        if started is not None:
            seconds = (envelope.occurred_at - started[1]).total_seconds()
            OPERATION_SECONDS.labels(kind, status).observe(max(seconds, 0.0))
    elif isinstance(event, DocumentRegistered):
        DOCUMENTS.labels("registered").inc()
        CHUNKS.inc(event.chunk_count)
    elif isinstance(event, DocumentSkipped):
        DOCUMENTS.labels("skipped").inc()
    elif isinstance(event, DocumentFailed):
        DOCUMENTS.labels("failed").inc()


async def observe_consumer_lag(js: JetStreamContext) -> None:
    """Read each embed consumer's lag from JetStream into the per-model gauges."""
    try:
        consumers = await js.consumers_info(WORK_STREAM)
    except Exception as exc:  # a scrape still answers with what it has
        log.debug("no consumer info for %s: %s", WORK_STREAM, exc)
        return
    for info in consumers:
        subject = info.config.filter_subject or ""
        model = subject.removeprefix(_EMBED_PREFIX)
        if subject.startswith(_EMBED_PREFIX) and model:
            CONSUMER_PENDING.labels(model).set(info.num_pending or 0)
            CONSUMER_ACK_PENDING.labels(model).set(info.num_ack_pending or 0)


def exposition() -> bytes:
    """Every metric of this process in Prometheus' text format."""
    return generate_latest()
