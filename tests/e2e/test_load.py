"""Issue 11, load and secrets on the whole system (``semantik run``, loopback only): 20
users, each with an account, a token and a collection of their own, search while two
other collections ingest; and no password, token or signing key reaches a log."""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import websockets

from semantik.bench_sources import WORDS

from .conftest import RunningSystem, register, semantik_run
from .test_walking_skeleton import wait_operation

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.reliability]

USERS = 20
#: Documents in each of the two collections that ingest while the users search.
INGESTED = 40
#: How long the users search at most, and how many searches each makes at most.
SEARCH_SECONDS = 12.0
SEARCHES_EACH = 20


def password_of(username: str) -> str:
    return f"{username} keeps this secret"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    data_dir = tmp_path_factory.mktemp("semantik-load")
    # Every user signs in from 127.0.0.1: the per-address sign-in limit would refuse most.
    with semantik_run(data_dir, AUTH_RATE_LIMIT_BURST="200") as running:
        yield running


async def sign_in(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    """Register and log in; the token pair."""
    account = {"username": username, "password": password_of(username)}
    assert await register(client, account) == 201
    reply = await client.post("/api/v1/auth/login", json=account)
    assert reply.status_code == 200, reply.text
    pair: dict[str, str] = reply.json()
    return pair


async def collection_with(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, folder: Path
) -> tuple[str, str]:
    """A new collection indexing ``folder``: its id and the operation's id."""
    created = await client.post("/api/v2/collections", json={"name": name}, headers=headers)
    assert created.status_code == 201, created.text
    collection: str = created.json()["id"]
    added = await client.post(
        f"/api/v2/collections/{collection}/sources", json={"path": str(folder)}, headers=headers
    )
    assert added.status_code == 202, added.text
    return collection, added.json()["operation"]["id"]


def write_corpus(folder: Path, name: str, count: int) -> Path:
    folder.mkdir(parents=True)
    for n in range(count):
        words = [WORDS[(n * 7 + i * 13) % len(WORDS)] for i in range(150)]
        sentences = [" ".join(words[i : i + 15]).capitalize() + "." for i in range(0, 150, 15)]
        (folder / f"{name}-{n:03}.txt").write_text(f"{name} document {n}. " + " ".join(sentences))
    return folder


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)]


def test_a_kept_alive_connection_outlives_a_client_s_idle_pool(system: RunningSystem) -> None:
    """A connection a client keeps idle for as long as its pool does (httpx: 5 s) is
    still open when it sends on it again: the gateway keeps idle connections longer
    (75 s), so no request meets a connection the server is closing."""
    parts = urlsplit(system.url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)

    def health() -> None:
        connection.request("GET", "/health")
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())

    try:
        health()
        opened = connection.sock
        time.sleep(float(httpx.Limits().keepalive_expiry or 5.0) + 1)
        health()  # on a connection the server had closed: RemoteDisconnected
        assert connection.sock is opened  # the same connection answered both
    finally:
        connection.close()


async def test_twenty_users_search_while_two_collections_ingest(system: RunningSystem) -> None:
    phases = [time.monotonic()]
    limits = httpx.Limits(max_connections=USERS + 4)
    async with httpx.AsyncClient(base_url=system.url, timeout=60, limits=limits) as client:
        names = [f"searcher{n:02}" for n in range(USERS)]
        pairs = await asyncio.gather(*(sign_in(client, name) for name in names))
        users = [{"Authorization": f"Bearer {pair['access_token']}"} for pair in pairs]
        notes = {}
        for n, name in enumerate(names):
            folder = system.sources / name
            folder.mkdir(parents=True)
            notes[name] = folder / "note.md"
            notes[name].write_text(
                f"# {name}\n\n{name} keeps a {WORDS[n]} by the {WORDS[-n - 1]}.\n"
            )
        own = await asyncio.gather(
            *(
                collection_with(client, headers, "notes", system.sources / name)
                for name, headers in zip(names, users, strict=True)
            )
        )
        for (_, operation), headers in zip(own, users, strict=True):
            assert (await wait_operation(client, headers, operation))["status"] == "completed"

        phases.append(time.monotonic())
        owners = [await sign_in(client, f"owner{n}") for n in (1, 2)]
        owner_headers = [{"Authorization": f"Bearer {p['access_token']}"} for p in owners]
        ingests = await asyncio.gather(
            *(
                collection_with(
                    client, headers, name, write_corpus(system.sources / name, name, INGESTED)
                )
                for name, headers in zip(("atlas", "ledger"), owner_headers, strict=True)
            )
        )
        ingesting = asyncio.Event()
        ingesting.set()
        samples: list[tuple[int, float, bool]] = []  # (status, seconds, during ingest)
        errors: list[str] = []

        async def searcher(name: str, headers: dict[str, str], collection: str) -> None:
            deadline = time.monotonic() + SEARCH_SECONDS
            for n in range(SEARCHES_EACH):
                if time.monotonic() > deadline or (n and not ingesting.is_set()):
                    return
                query = f"what does {name} keep by the {WORDS[(n * 5) % len(WORDS)]}"
                started = time.monotonic()
                reply = await client.post(
                    f"/api/v2/collections/{collection}/search",
                    json={"query": query},
                    headers=headers,
                )
                during = ingesting.is_set()
                samples.append((reply.status_code, time.monotonic() - started, during))
                body = reply.json()
                if reply.status_code != 200 or body["partial"] or body["warnings"]:
                    errors.append(f"{name}: {reply.status_code} {reply.text[:200]}")
                elif [r["path"] for r in body["results"]] != [str(notes[name])]:
                    errors.append(f"{name}: found {body['results'][:1]}")

        async def watch_ingests() -> list[dict[str, Any]]:
            done = await asyncio.gather(
                *(
                    wait_operation(client, headers, operation)
                    for (_, operation), headers in zip(ingests, owner_headers, strict=True)
                )
            )
            ingesting.clear()
            return list(done)

        watcher = asyncio.create_task(watch_ingests())
        await asyncio.gather(
            *(
                searcher(name, headers, collection)
                for name, headers, (collection, _) in zip(names, users, own, strict=True)
            )
        )
        phases.append(time.monotonic())
        finished = await watcher
        phases.append(time.monotonic())

        assert errors == []
        assert all(status == 200 for status, _, _ in samples)
        during = [seconds for _, seconds, while_ingesting in samples if while_ingesting]
        assert len(during) >= USERS  # every user searched while the collections ingested
        for operation, (collection, _), headers in zip(
            finished, ingests, owner_headers, strict=True
        ):
            assert operation["status"] == "completed", operation
            assert operation["stats"]["new_documents"] == INGESTED
            got = (await client.get(f"/api/v2/collections/{collection}", headers=headers)).json()
            assert got["document_count"] == INGESTED
            assert got["vector_count"] == got["chunk_count"] >= INGESTED
        print(
            f"\nload: {USERS} users, {len(samples)} searches ({len(during)} during ingest of "
            f"2 x {INGESTED} documents), 0 errors; search p50 "
            f"{sorted(during)[len(during) // 2] * 1000:.0f} ms, p95 {p95(during) * 1000:.0f} ms "
            f"during ingest; max {max(during) * 1000:.0f} ms; seconds to sign in and index "
            f"the users' notes, to search, to finish ingesting: "
            + ", ".join(f"{b - a:.1f}" for a, b in itertools.pairwise(phases))
        )


async def test_no_password_token_or_key_reaches_a_log(system: RunningSystem) -> None:
    secrets: list[str] = [password_of(f"searcher{n:02}") for n in range(USERS)]
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        pair = await sign_in(client, "careful")
        secrets += [password_of("careful"), pair["access_token"], pair["refresh_token"]]
        wrong = {"username": "careful", "password": "a wrong password guessed"}
        assert (await client.post("/api/v1/auth/login", json=wrong)).status_code == 401
        short = {"username": "hasty", "password": "tiny7"}
        assert (await client.post("/api/v1/auth/register", json=short)).status_code == 422
        secrets += [wrong["password"], short["password"]]
        rotated = (
            await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        ).json()
        secrets += [rotated["access_token"], rotated["refresh_token"]]
        headers = {"Authorization": f"Bearer {rotated['access_token']}"}
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
        ws_url = system.url.replace("http", "ws", 1) + "/ws"
        async with websockets.connect(f"{ws_url}?token={rotated['access_token']}") as ws:
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await ws.recv())["type"] in ("pong", "heartbeat")
        protocol = f"access_token.{rotated['access_token']}"
        async with websockets.connect(ws_url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "ping"}))
        logout = {"refresh_token": rotated["refresh_token"]}
        assert (await client.post("/api/v1/auth/logout", json=logout)).status_code == 204
        refused = await client.get("/api/v1/auth/me", headers=headers)
        assert refused.status_code == 401
    [secret_file] = system.data_dir.rglob("jwt_secret")
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secrets.append(secret_file.read_text().strip())
    logs: dict[str, str] = {}
    for _ in range(100):  # until the gateway's lines of the last requests are in its file
        logs = {p.name: p.read_text(errors="replace") for p in (system.data_dir / "logs").iterdir()}
        if "/api/v1/auth/logout" in logs["gateway.log"]:
            break
        await asyncio.sleep(0.1)
    # The logs do record this flow (so a secret in them would be found)...
    assert "/api/v1/auth/refresh" in logs["gateway.log"] and "/ws?token=" in logs["gateway.log"]
    # ...and none of its secrets.
    leaked = [(name, s[:12]) for name, text in logs.items() for s in secrets if s in text]
    assert leaked == []
