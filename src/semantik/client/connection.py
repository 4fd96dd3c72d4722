"""The client's connection to a gateway: HTTP with sign-in (a password, an API key, or
the CLI's local account) and token renewal, and the WebSocket's events with resume."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self
from uuid import UUID

import httpx
import websockets
from websockets.typing import Subprotocol

from .errors import ApiError, UnauthorizedError, error_of_body

#: The close code of a socket whose access token expired or whose session ended.
POLICY_VIOLATION = 1008
#: A stopped system refuses at once; one that does not answer is given this long.
CONNECT_TIMEOUT_SECONDS = 5.0
#: How long a dropped socket is reconnected before ``follow`` gives up.
RECONNECT_SECONDS = 30.0
#: Frames read ahead of the consumer. Past it websockets stops reading the socket, and a
#: consumer that stops following with more unread would wait out the close handshake
#: (10 s) behind them: a replayed history fits well within it.
MAX_QUEUE = 4096
#: Paths of signing in and of renewing tokens: a 401 there is final.
AUTH = "/api/v1/auth/"
#: The environment variable ``SemantikClient.from_env`` reads an API key from.
API_KEY_ENV = "SEMANTIK_API_KEY"
#: The WebSocket subprotocol that carries the token (kept out of URLs and access logs).
TOKEN_PROTOCOL = "access_token."


#: A collection's, operation's, source's or document's id, as a UUID or its text.
Id = UUID | str


def given(**fields: Any) -> dict[str, Any]:
    """The fields that are not None: what a body or a query sets."""
    return {key: value for key, value in fields.items() if value is not None}


@contextlib.contextmanager
def upload_form(
    file: str | Path | bytes,
    filename: str | None,
    text_columns: Sequence[str],
    context_columns: Sequence[str],
    id_column: str | None,
    keep_versions: bool = False,
) -> Iterator[dict[str, Any]]:
    """httpx's ``files`` and ``data`` of an upload: the file (streamed from disk, not
    read into memory), and the column fields."""
    data = _form_fields(text_columns, context_columns, id_column, keep_versions)
    if isinstance(file, bytes):
        if not filename:
            raise ValueError("name the uploaded bytes with filename=")
        yield {"files": {"file": (filename, file)}, "data": data}
        return
    with Path(file).open("rb") as handle:
        yield {"files": {"file": (filename or Path(file).name, handle)}, "data": data}


#: The most files the client sends in one upload request (the server's limit).
MAX_FILES_PER_REQUEST = 50
#: The most bytes of files it sends in one (``SEMANTIK_UPLOAD_MAX_BYTES``'s default).
UPLOAD_BYTES_PER_REQUEST = 50 * 1024 * 1024


def upload_batches(files: Sequence[Path]) -> Iterator[list[Path]]:
    """The files in requests' worth, in order: a file larger than a request goes alone
    (and the server says whether it is too large)."""
    batch: list[Path] = []
    size = 0
    for file in files:
        length = file.stat().st_size
        if batch and (
            len(batch) == MAX_FILES_PER_REQUEST or size + length > UPLOAD_BYTES_PER_REQUEST
        ):
            yield batch
            batch, size = [], 0
        batch.append(file)
        size += length
    if batch:
        yield batch


@contextlib.contextmanager
def uploads_form(
    files: Sequence[str | Path],
    text_columns: Sequence[str],
    context_columns: Sequence[str],
    id_column: str | None,
    keep_versions: bool,
) -> Iterator[dict[str, Any]]:
    """httpx's ``files`` and ``data`` of several files in one request, each a ``file``
    part streamed from disk."""
    data = _form_fields(text_columns, context_columns, id_column, keep_versions)
    with contextlib.ExitStack() as opened:
        parts = [("file", (Path(f).name, opened.enter_context(Path(f).open("rb")))) for f in files]
        yield {"files": parts, "data": data}


def _form_fields(
    text_columns: Sequence[str],
    context_columns: Sequence[str],
    id_column: str | None,
    keep_versions: bool,
) -> dict[str, Any]:
    return given(
        text_columns=list(text_columns) or None,
        context_columns=list(context_columns) or None,
        id_column=id_column,
        keep_versions="true" if keep_versions else None,
    )


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


def default_data_dir() -> Path:
    """``SEMANTIK_DATA_DIR``, else ``./.semantik`` (as ``semantik run`` chooses it)."""
    return Path(os.environ.get("SEMANTIK_DATA_DIR") or ".semantik")


class LocalAccountMissing(Exception):
    """No local operator account in the data dir: ``semantik run`` did not start there."""


class Connection:
    """HTTP and WebSocket access to one gateway, signed in one of three ways: an API key
    given here, ``login`` with a password, or ``login_local`` as the CLI's account."""

    def __init__(
        self, base_url: str | None = None, timeout: float = 60.0, *, api_key: str | None = None
    ) -> None:
        self.base_url = (base_url or default_url()).rstrip("/")
        self.http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_SECONDS),
        )
        #: The bearer: an access token after ``login``, or the API key.
        self.token: str | None = api_key
        self.refresh_token: str | None = None

    @classmethod
    def from_env(cls, timeout: float = 60.0) -> Self:
        """A client of ``default_url()`` holding the API key in ``SEMANTIK_API_KEY``."""
        return cls(default_url(), timeout, api_key=os.environ.get(API_KEY_ENV) or None)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request (``kwargs`` as httpx takes them); the parsed JSON answer, or None.
        A refusal raises ``ApiError`` (of the status's subclass) with the server's message."""
        response = await self._send(method, path, **kwargs)
        # Access tokens lapse (ACCESS_TOKEN_MINUTES) during long commands such as a
        # large eval's ingest: renew it once with the refresh token and ask again.
        if response.status_code == 401 and self.refresh_token and not path.startswith(AUTH):
            await self.refresh()
            response = await self._send(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            raise error_of_body(response.status_code, body, response.text)
        return response.json() if response.content else None

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def login(self, username: str, password: str, register: bool = False) -> None:
        """Sign in; with ``register``, make the account first if signing in is refused."""
        body = {"username": username, "password": password}
        try:
            tokens = await self.call("POST", "/api/v1/auth/login", json=body)
        except ApiError as exc:
            if not register or exc.status != 401:
                raise
            await self.call("POST", "/api/v1/auth/register", json=body)
            tokens = await self.call("POST", "/api/v1/auth/login", json=body)
        self.token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]

    async def login_local(self, data_dir: Path | None = None) -> None:
        """Sign in as the local operator account of ``data_dir`` (default: as ``semantik
        run`` chooses it), which only a user of this machine who can read it may use."""
        data_dir = data_dir or default_data_dir()
        stored = local_credentials(data_dir)
        if stored is None:
            raise LocalAccountMissing(f"no local operator account in {data_dir}")
        await self.login(*stored)

    async def refresh(self) -> None:
        """A new access token (and the rotated refresh token) for the same session."""
        body = {"refresh_token": self.refresh_token}
        tokens = await self.call("POST", "/api/v1/auth/refresh", json=body)
        self.token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]

    async def logout(self) -> None:
        """End the session: its access and refresh tokens stop working on every gateway."""
        if self.refresh_token is not None:
            await self.call(
                "POST", "/api/v1/auth/logout", json={"refresh_token": self.refresh_token}
            )
        self.token = self.refresh_token = None

    async def follow(
        self, subscribe: Mapping[str, Any], reconnect_for: float = RECONNECT_SECONDS
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Follow one subscription over the WebSocket; yields the server's messages.

        Without ``last_seq`` the first message after ``subscribed`` is a ``snapshot`` of
        the current state, and its ``seq`` the point the events follow on from.
        A socket that drops, or that the server closes (a restart, a slow reader, an
        expired token: the token is renewed first), is opened again and subscribed with
        the last ``seq`` seen, so the follow misses nothing and sees nothing twice. It
        gives up when no socket could be kept open for ``reconnect_for`` seconds, and
        ends when the server closes the socket normally. A ``last_seq`` older than the
        stream retains (the gateway answers ``resync``) is followed on from a snapshot."""
        ws_url = self.base_url.replace("http", "ws", 1) + "/ws"
        last_seq = subscribe.get("last_seq")
        delay, dropped_at, renewed = 0.25, None, False
        while True:
            resume = dict(subscribe) if last_seq is None else {**subscribe, "last_seq": last_seq}
            protocols = [Subprotocol(TOKEN_PROTOCOL + self.token)] if self.token else None
            try:
                async with websockets.connect(
                    ws_url,
                    subprotocols=protocols,
                    open_timeout=CONNECT_TIMEOUT_SECONDS,
                    max_queue=MAX_QUEUE,
                ) as ws:
                    await ws.send(json.dumps(resume))
                    async for raw in ws:
                        message = json.loads(raw)
                        delay, dropped_at, renewed = 0.25, None, False
                        if _asks_to_resync(message) and last_seq is not None:
                            # The stream no longer holds what followed last_seq: start
                            # again from the current state, which a snapshot frame brings.
                            last_seq = None
                            fresh = {k: v for k, v in subscribe.items() if k != "last_seq"}
                            await ws.send(json.dumps(fresh))
                            continue
                        if isinstance(message.get("seq"), int):
                            last_seq = message["seq"]
                        yield message
                    if ws.close_code == 1000:
                        return
                    # Going away (1001): a restart, followed on like a dropped socket.
                    raise websockets.ConnectionClosedError(
                        ws.protocol.close_rcvd, ws.protocol.close_sent
                    )
            except websockets.ConnectionClosedError as exc:
                if exc.rcvd is not None and exc.rcvd.code == POLICY_VIOLATION:
                    # An API key (revoked, or not allowed), or a fresh token refused too.
                    if self.refresh_token is None or renewed:
                        raise UnauthorizedError(401, exc.rcvd.reason) from exc
                    await self.refresh()
                    renewed = True
                    continue
                dropped_at = await _pause(dropped_at, delay, reconnect_for, exc)
            except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
                dropped_at = await _pause(dropped_at, delay, reconnect_for, exc)
            delay = min(delay * 2, 5.0)


async def _pause(
    dropped_at: float | None, delay: float, reconnect_for: float, exc: Exception
) -> float:
    """Wait before reconnecting; raise ``exc`` once the socket has been down too long."""
    now = time.monotonic()
    if dropped_at is not None and now - dropped_at >= reconnect_for:
        raise exc
    await asyncio.sleep(delay)
    return now if dropped_at is None else dropped_at


def _asks_to_resync(message: Mapping[str, Any]) -> bool:
    """Is this the gateway's word that the events after ``last_seq`` are gone?"""
    data = message.get("data")
    return (
        message.get("type") == "error" and isinstance(data, dict) and data.get("code") == "resync"
    )
