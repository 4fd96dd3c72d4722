"""OpenTelemetry across the bus (SPEC §2): W3C ``traceparent`` in NATS headers.

The bus opens a span for every request it sends and answers, every event a durable
consumer handles and every event or work item it publishes; each span says which
process made it (``semantik.service``). Events keep the trace of the command that
caused them: ``TracingMapper`` stores the current ``traceparent`` with each domain event,
and the outbox relay publishes it as the event's header, so one trace follows a
request from the gateway through collections, ingest and the embedder.

Spans are exported over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; without
it they are still made (so trace ids propagate) and dropped.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
SERVICE_ATTRIBUTE = "semantik.service"

_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("semantik")


def configure_tracing(
    service: str, otlp_endpoint: str | None, *processors: SpanProcessor
) -> TracerProvider:
    """Install this process's tracer provider (once; later calls only add processors).

    ``otlp_endpoint`` is the collector's base URL (``http://collector:4318``): spans go
    to ``<endpoint>/v1/traces`` over OTLP/HTTP in batches.
    """
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        trace.set_tracer_provider(provider)
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            url = otlp_endpoint.rstrip("/")
            if not url.endswith("/v1/traces"):
                url += "/v1/traces"
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def current_traceparent() -> str | None:
    """The ``traceparent`` of the span running now, if any."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get(TRACEPARENT)


def with_trace(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` plus the current ``traceparent`` (unless they already carry one)."""
    if TRACEPARENT not in headers:
        _propagator.inject(headers)
    return headers


def parent_context(
    headers: Mapping[str, str] | None, traceparent: str | None = None
) -> Context | None:
    """The remote parent named by message headers, or else by ``traceparent``."""
    carrier = dict(headers or {})
    if TRACEPARENT not in carrier and traceparent:
        carrier[TRACEPARENT] = traceparent
    if TRACEPARENT not in carrier:
        return None
    return _propagator.extract(carrier)


@contextlib.contextmanager
def span(
    name: str,
    service: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Context | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """A span of ``service``, current while the block runs, a child of ``parent`` if given
    (else of the current span)."""
    token = otel_context.attach(parent) if parent is not None else None
    try:
        with _tracer.start_as_current_span(
            name, kind=kind, attributes={SERVICE_ATTRIBUTE: service, **(attributes or {})}
        ) as current:
            yield current
    finally:
        if token is not None:
            otel_context.detach(token)


def record_span(
    name: str,
    service: str,
    traceparent: str | None,
    started: float,
    attributes: Mapping[str, Any] | None = None,
) -> None:
    """A finished span from ``started`` (``time.time()``) until now, under ``traceparent``:
    for work whose steps are spread over several tasks (the embedder's batches)."""
    parent = parent_context(None, traceparent)
    finished = _tracer.start_span(
        name,
        context=parent,
        kind=SpanKind.CONSUMER,
        start_time=int(started * 1e9),
        attributes={SERVICE_ATTRIBUTE: service, **(attributes or {})},
    )
    finished.end(end_time=time.time_ns())


class TracingMapper(Mapper[UUID]):
    """Stores the current ``traceparent`` with each new domain event (read back by the
    outbox relay). Aggregates ignore the extra attribute: eventsourcing passes an event's
    methods only the arguments they declare."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        if TRACEPARENT not in vars(domain_event):
            traceparent = current_traceparent()
            if traceparent is not None:
                object.__setattr__(domain_event, TRACEPARENT, traceparent)
        return super().to_stored_event(domain_event)


MAPPER_TOPIC = f"{TracingMapper.__module__}:{TracingMapper.__qualname__}"
