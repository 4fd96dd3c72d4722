"""Request latency metrics of the gateway, and its name on the request's trace span.

FastAPI itself opens a server span for each request when OpenTelemetry is installed
(continuing an incoming ``traceparent``); this middleware runs inside it, marks it as
the gateway's, and observes the latency histogram. A pure ASGI middleware (not
``BaseHTTPMiddleware``, which would buffer responses). The histogram is labelled by
route template (``/api/v2/collections/{collection_id}``), never by raw path, so unknown
paths and ids cannot grow the number of series; a request no route matched is
``unmatched``.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import trace
from semantik_runtime.metrics import HTTP_REQUEST_SECONDS
from semantik_runtime.telemetry import SERVICE_ATTRIBUTE
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SERVICE = "gateway"
UNMATCHED = "unmatched"


def route_template(scope: Scope) -> str:
    """The matched route's full template, routers' prefixes included."""
    route: Any = scope.get("route")
    template = getattr(route, "path_format", None)
    if not isinstance(template, str):
        return UNMATCHED
    concrete = template
    for name, value in (scope.get("path_params") or {}).items():
        concrete = concrete.replace(f"{{{name}}}", str(value))
    path = str(scope.get("path", ""))
    # An including router's prefix is static: it is what precedes the route's own path.
    return path[: len(path) - len(concrete)] + template if path.endswith(concrete) else template


class RequestTelemetry:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        trace.get_current_span().set_attribute(SERVICE_ATTRIBUTE, SERVICE)
        if scope["type"] == "websocket":  # long-lived: no latency to observe
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            elapsed = time.perf_counter() - started
            method = str(scope.get("method", "GET"))
            route = route_template(scope)
            HTTP_REQUEST_SECONDS.labels(method, route, str(status)).observe(elapsed)
