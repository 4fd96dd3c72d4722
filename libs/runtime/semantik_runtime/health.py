"""A tiny HTTP endpoint for probes: ``/health`` (alive) and ``/health/ready`` (checks).

Services other than the gateway speak no HTTP otherwise; a dependency-free server on
asyncio keeps them small. Each check returns None when healthy or a reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[str | None]]


class HealthServer:
    def __init__(self, service: str, checks: dict[str, Check]) -> None:
        self.service = service
        self.checks = checks
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

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5.0)
            while (await asyncio.wait_for(reader.readline(), 5.0)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            path = parts[1] if len(parts) > 1 else "/"
            body: dict[str, object]
            if path == "/health":
                status, body = 200, {"status": "ok", "service": self.service}
            elif path == "/health/ready":
                ready, results = await self.readiness()
                status = 200 if ready else 503
                body = {"status": "ready" if ready else "unavailable", "checks": results}
            else:
                status, body = 404, {"detail": "not found"}
            payload = json.dumps(body).encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
