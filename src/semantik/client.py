"""A small client of Semantik's REST and WebSocket API, used by the CLI."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import websockets

#: The close code of a socket whose access token expired or whose session ended.
POLICY_VIOLATION = 1008


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


def local_credentials(data_dir: Path) -> tuple[str, str] | None:
    """The local operator account that ``semantik run`` keeps in the data dir, if any."""
    path = data_dir / "secrets" / "cli_credentials.json"
    try:
        stored = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return str(stored["username"]), str(stored["password"])


def default_url() -> str:
    """``SEMANTIK_URL``, else the gateway that ``SEMANTIK_HOST``/``SEMANTIK_PORT`` name."""
    if url := os.environ.get("SEMANTIK_URL"):
        return url
    host = os.environ.get("SEMANTIK_HOST") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):  # bound to every address: reach it on loopback
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{os.environ.get('SEMANTIK_PORT') or 8080}"


#: A stopped system refuses at once; one that does not answer is given this long.
CONNECT_TIMEOUT_SECONDS = 5.0


#: Paths of signing in and of renewing tokens: a 401 there is final.
AUTH = "/api/v1/auth/"


class SemantikClient:
    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_SECONDS),
        )
        self.token: str | None = None
        self.refresh_token: str | None = None

    async def __aenter__(self) -> SemantikClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._send(method, path, **kwargs)
        # Access tokens lapse (ACCESS_TOKEN_MINUTES) during long commands such as a
        # large eval's ingest: renew it once with the refresh token and ask again.
        if response.status_code == 401 and self.refresh_token and not path.startswith(AUTH):
            await self.refresh()
            response = await self._send(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ApiError(response.status_code, str(detail))
        return response.json() if response.content else None

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def login(self, username: str, password: str, register: bool = False) -> None:
        body = {"username": username, "password": password}
        try:
            tokens = await self.call("POST", "/api/v1/auth/login", json=body)
        except ApiError as exc:
            if not register or exc.status != 401:
                raise
            await self.call("POST", "/api/v1/auth/register", json=body)
            tokens = await self.call("POST", "/api/v1/auth/login", json=body)
        self.token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]

    async def refresh(self) -> None:
        """A new access token (and the rotated refresh token) for the same session."""
        body = {"refresh_token": self.refresh_token}
        tokens = await self.call("POST", "/api/v1/auth/refresh", json=body)
        self.token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]

    async def collection_by_name(self, name: str) -> dict[str, Any] | None:
        offset = 0
        while True:
            page = await self.call(
                "GET", "/api/v2/collections", params={"limit": 100, "offset": offset}
            )
            for item in page["items"]:
                if item["name"] == name:
                    return dict(item)
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return None

    async def events(self, subscribe: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Follow a subscription over the WebSocket; yields server messages.

        When the server closes the socket because the access token expired (1008), the
        token is refreshed and the subscription resumed after the last event seen, so
        a follow longer than a token's lifetime misses nothing and sees nothing twice."""
        ws_url = self.base_url.replace("http", "ws", 1) + "/ws"
        last_seq: int | None = None
        while True:
            resume = subscribe if last_seq is None else {**subscribe, "last_seq": last_seq}
            try:
                async with websockets.connect(f"{ws_url}?token={self.token}") as ws:
                    await ws.send(json.dumps(resume))
                    async for raw in ws:
                        message = json.loads(raw)
                        if isinstance(message.get("seq"), int):
                            last_seq = message["seq"]
                        yield message
                return
            except websockets.ConnectionClosedError as exc:
                expired = exc.rcvd is not None and exc.rcvd.code == POLICY_VIOLATION
                if not expired or self.refresh_token is None:
                    raise
                await self.refresh()
