"""A tiny HTTP endpoint for probes and Prometheus: ``/health`` (alive),
``/health/ready`` (checks) and ``/metrics``.

Services other than the gateway speak no HTTP otherwise; a small server on asyncio
keeps them so. Each check returns None when healthy or a reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from .metrics import CONTENT_TYPE, exposition

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[str | None]]
Scrape = Callable[[], Awaitable[None]]
JSON = "application/json"
REASONS = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}


class HealthServer:
    def __init__(
        self, service: str, checks: dict[str, Check], scrape: Scrape | None = None
    ) -> None:
        self.service = service
        self.checks = checks
        self.scrape = scrape
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._serve, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        results: dict[str, str] = {}
        for name, check in self.checks.items():
            try:
                problem = await asyncio.wait_for(check(), 3.0)
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
            results[name] = problem or "ok"
        return all(v == "ok" for v in results.values()), results

    async def _answer(self, path: str) -> tuple[int, str, bytes]:
        body: dict[str, object]
        if path == "/metrics":
            if self.scrape is not None:
                try:
                    await asyncio.wait_for(self.scrape(), 3.0)
                except Exception as exc:  # the other metrics are still worth serving
                    log.debug("refreshing gauges before a scrape failed: %s", exc)
            return 200, CONTENT_TYPE, exposition()
        if path == "/health":
            status, body = 200, {"status": "ok", "service": self.service}
        elif path == "/health/ready":
            ready, results = await self.readiness()
            status = 200 if ready else 503
            body = {"status": "ready" if ready else "unavailable", "checks": results}
        else:
            status, body = 404, {"detail": "not found"}
        return status, JSON, json.dumps(body).encode()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5.0)
            while (await asyncio.wait_for(reader.readline(), 5.0)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) > 1 else "/"
            status, content_type, payload = await self._answer(path)
            writer.write(
                f"HTTP/1.1 {status} {REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
