"""``python -m gateway_service``: serve the gateway with uvicorn on SEMANTIK_HOST:PORT."""

from __future__ import annotations

import logging
import re

import uvicorn
from semantik_runtime.service_process import configure_logging, freeze_startup_heap
from semantik_runtime.telemetry import configure_tracing

from .config import GatewaySettings
from .http_app import create_app

_TOKEN_IN_QUERY = re.compile(r"(token=)[^&\s\"]+")

#: How long an idle kept-alive connection stays open: longer than the clients and load
#: balancers that reuse one (httpx keeps its idle connections 5 s, a cloud load
#: balancer 60 s), so that the server never closes a connection as a client sends on
#: it. uvicorn's own 5 s equalled httpx's, and a request sent at that instant failed
#: with a read error (tests/e2e/test_load.py, twenty users searching, once in CI).
KEEP_ALIVE_SECONDS = 75


class RedactTokens(logging.Filter):
    """uvicorn logs paths with their query: keep ``/ws?token=…`` out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_QUERY.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level)
    configure_tracing("gateway", settings.otlp_endpoint)
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactTokens())
    app = create_app(settings)
    freeze_startup_heap()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        log_level=settings.log_level.lower(),
        # Not h11 and asyncio's loop: parsing and answering a request in C takes less of
        # a search's time on a busy machine.
        loop="uvloop",
        http="httptools",
        ws_ping_interval=settings.ws_heartbeat_seconds,
        timeout_graceful_shutdown=10,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


if __name__ == "__main__":
    main()
