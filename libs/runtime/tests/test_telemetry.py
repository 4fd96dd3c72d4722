"""Trace context on the bus and the OTLP export of spans."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry import trace
from semantik_runtime.telemetry import parent_context, span, with_trace

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CAUSE = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def test_a_message_handled_under_a_traceparent_passes_the_trace_on() -> None:
    assert parent_context({}) is None
    with span("handle something", "ingest", parent=parent_context({"traceparent": CAUSE})):
        headers = with_trace({"Nats-Msg-Id": "x"})
    assert headers["Nats-Msg-Id"] == "x"
    version, trace_id, _, _ = headers["traceparent"].split("-")
    assert (version, trace_id) == ("00", TRACE_ID)
    # A header that already names its cause keeps it.
    assert with_trace({"traceparent": CAUSE}) == {"traceparent": CAUSE}
    # The event's stored traceparent is used when its message has no header.
    stored = trace.get_current_span(parent_context(None, CAUSE)).get_span_context()
    assert stored.trace_id == int(TRACE_ID, 16)


class Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Collector.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


EXPORTING_PROCESS = """
import sys
from semantik_runtime.telemetry import configure_tracing, span
provider = configure_tracing("semantik-otlp-test", sys.argv[1])
with span("scan a source", "ingest"):
    pass
provider.shutdown()
"""


def test_spans_are_exported_over_otlp_http_when_an_endpoint_is_set(collector: str) -> None:
    Collector.received.clear()
    subprocess.run([sys.executable, "-c", EXPORTING_PROCESS, collector], check=True, timeout=60)
    [(path, body)] = Collector.received
    assert path == "/v1/traces"
    assert b"scan a source" in body and b"semantik-otlp-test" in body and b"ingest" in body
