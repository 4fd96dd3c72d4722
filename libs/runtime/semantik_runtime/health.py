"""The probe and Prometheus endpoint of the services without HTTP of their own:
``/health`` (alive), ``/health/ready`` (checks) and ``/metrics``.

A small Starlette app served by uvicorn on the service's own loop (both already used by
the gateway), in place of a hand-written HTTP parser. Each check returns None when
healthy or a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .metrics import CONTENT_TYPE, exposition

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[str | None]]
Scrape = Callable[[], Awaitable[None]]


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: SIGTERM stops the whole service (its
    ``install_stop_signals``), which closes this server in its turn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HealthServer:
    def __init__(
        self, service: str, checks: dict[str, Check], scrape: Scrape | None = None
    ) -> None:
        self.service = service
        self.checks = checks
        self.scrape = scrape
        self.app = Starlette(
            routes=[
                Route("/health", self._alive),
                Route("/health/ready", self._ready),
                Route("/metrics", self._metrics),
            ]
        )
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> int:
        """Serve on ``host:port`` (0: a free port); the port it listens on."""
        listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", loop="none"
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[listening]))
        while not self._server.started:
            if self._task.done():
                await self._task  # raises why it could not start
                raise RuntimeError("the health server stopped at start")
            await asyncio.sleep(0.01)
        return int(listening.getsockname()[1])

    async def close(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        results: dict[str, str] = {}
        for name, check in self.checks.items():
            try:
                problem = await asyncio.wait_for(check(), 3.0)
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            results[name] = problem or "ok"
        return all(v == "ok" for v in results.values()), results

    async def _alive(self, _request: Request) -> Response:
        return JSONResponse({"status": "ok", "service": self.service})

    async def _ready(self, _request: Request) -> Response:
        ready, results = await self.readiness()
        body = {"status": "ready" if ready else "unavailable", "checks": results}
        return JSONResponse(body, status_code=200 if ready else 503)

    async def _metrics(self, _request: Request) -> Response:
        if self.scrape is not None:
            try:
                await asyncio.wait_for(self.scrape(), 3.0)
            except Exception as exc:  # the other metrics are still worth serving
                log.debug("refreshing gauges before a scrape failed: %s", exc)
        return Response(exposition(), media_type=CONTENT_TYPE)
