"""What protects the gateway and its users: rate limits (429 with ``Retry-After``), CORS
from ``CORS_ORIGINS``, and one user's collections closed to another on every path."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from gateway_service.http_app import create_app
from gateway_service.ratelimit import RateLimiter
from websockets.asyncio.client import connect

from .conftest import Stack, gateway_settings, read_until, token

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

ACCOUNT = {"username": "carol", "password": "correct horse"}


@pytest.fixture
async def strict(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway without a bus whose sign-in allows 3 requests, then 1 a minute."""
    settings = gateway_settings(
        tmp_path,
        "nats://127.0.0.1:1",
        auth_rate_per_minute=1,
        auth_rate_burst=3,
        cors_origins="https://search.example.org, https://admin.example.org",
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client
    app.state.context.users.close()


async def test_sign_in_beyond_the_limit_is_429_with_retry_after(
    strict: httpx.AsyncClient,
) -> None:
    assert (await strict.post("/api/v1/auth/register", json=ACCOUNT)).status_code == 201
    assert (await strict.post("/api/v1/auth/login", json=ACCOUNT)).status_code == 200
    wrong = {**ACCOUNT, "password": "guess number one"}
    assert (await strict.post("/api/v1/auth/login", json=wrong)).status_code == 401
    limited = await strict.post("/api/v1/auth/login", json=ACCOUNT)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "retry in" in limited.json()["detail"]
    # Reading one's own account is not sign-in: not limited.
    assert (await strict.get("/api/v1/auth/me")).status_code == 401


async def test_cors_allows_the_configured_origins_only(strict: httpx.AsyncClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = await strict.options(
        "/api/v1/auth/login", headers={"Origin": "https://search.example.org", **preflight}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://search.example.org"
    refused = await strict.options(
        "/api/v1/auth/login", headers={"Origin": "https://evil.example.com", **preflight}
    )
    assert "access-control-allow-origin" not in refused.headers


def test_the_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [limiter.retry_after("a") for _ in range(3)] == [0, 0, 1]
    assert limiter.retry_after("b") == 0  # buckets are per client
    now[0] = 1.0
    assert limiter.retry_after("a") == 0
    assert RateLimiter(per_minute=0).retry_after("a") == 0  # 0 = unlimited


async def test_searches_beyond_the_limit_are_429(stack: Stack) -> None:
    context = stack.app.state.context
    context.search_limit = RateLimiter(per_minute=1, burst=2)
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    url = f"/api/v2/collections/{docs['id']}/search"
    codes = [(await stack.client.post(url, json={"query": "q"}, headers=alice)) for _ in range(3)]
    assert [reply.status_code for reply in codes] == [200, 200, 429]
    assert int(codes[-1].headers["Retry-After"]) >= 1


async def test_user_b_can_neither_read_change_search_nor_follow_user_as(
    stack: Stack, ws_url: str
) -> None:
    alice, bob = await stack.login("alice"), await stack.login("bob")
    docs = await stack.create_collection(alice, "docs")
    added = await stack.client.post(
        f"/api/v2/collections/{docs['id']}/sources",
        json={"path": str(stack.sources / "a")},
        headers=alice,
    )
    operation = added.json()["operation"]["id"]
    base = f"/api/v2/collections/{docs['id']}"
    attempts = [
        ("GET", base, None),
        ("PATCH", base, {"name": "taken"}),
        ("DELETE", base, None),
        ("GET", f"{base}/sources", None),
        ("POST", f"{base}/sources", {"path": str(stack.sources / "b")}),
        ("POST", f"{base}/documents", {"paths": [str(stack.sources / "b")]}),
        ("GET", f"{base}/operations", None),
        ("POST", f"{base}/operations/index", None),
        ("POST", f"{base}/operations/reindex", {}),
        ("GET", f"/api/v2/operations/{operation}", None),
        ("POST", f"/api/v2/operations/{operation}/cancel", None),
        ("POST", f"{base}/search", {"query": "anything"}),
        ("POST", "/api/v2/search", {"query": "anything", "collection_ids": [docs["id"]]}),
    ]
    for method, url, body in attempts:
        reply = await stack.client.request(method, url, json=body, headers=bob)
        assert reply.status_code == 403, (method, url, reply.status_code, reply.text)
    assert stack.searches == []  # nothing reached the search service
    listed = await stack.client.get("/api/v2/operations", headers=bob)
    assert listed.json()["total"] == 0
    async with connect(f"{ws_url}?token={token(bob)}") as ws:
        for kind, key in (("collection", docs["id"]), ("operation", operation)):
            await ws.send(json.dumps({"type": f"subscribe_{kind}", f"{kind}_id": key}))
            [refused] = await read_until(ws, lambda f: f["type"] == "error")
            assert refused["data"]["code"] == "forbidden"
    # alice still has it all, untouched
    mine = await stack.client.get(base, headers=alice)
    assert mine.status_code == 200 and mine.json()["name"] == "docs"
