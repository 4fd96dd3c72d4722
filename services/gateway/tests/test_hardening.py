"""What the gateway refuses before any user signs in (SPEC §11): security headers on every
response (a page framed by another origin is refused), settings that would weaken it
(a short JWT_SECRET, CORS_ORIGINS=*), and /metrics without its token beyond loopback."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_service.config import GatewaySettings
from gateway_service.http_app import create_app
from gateway_service.webui import APP_DIR
from pydantic import ValidationError

from .conftest import gateway_settings

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

TOKEN = "scrape-me-" + "x" * 22


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Any]:
    """A gateway (no bus) per settings: ``await gateway(**overrides)`` gives its client."""
    apps, clients = [], []

    async def make(**overrides: Any) -> httpx.AsyncClient:
        app = create_app(gateway_settings(tmp_path, "nats://127.0.0.1:1", **overrides))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")
        apps.append(app)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
    for app in apps:
        app.state.context.users.close()


def directives(policy: str) -> dict[str, str]:
    parts = (d.strip().split(None, 1) for d in policy.split(";") if d.strip())
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


def assert_hardened(reply: httpx.Response) -> None:
    csp = directives(reply.headers["content-security-policy"])
    assert csp["default-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in reply.headers["content-security-policy"]
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert reply.headers["x-frame-options"] == "DENY"


async def test_api_responses_carry_the_security_headers(gateway: Any) -> None:
    client = await gateway()
    assert_hardened(await client.get("/api/v1/auth/registration"))
    assert_hardened(await client.get("/api/v2/collections"))  # a 401
    assert_hardened(await client.get("/api/v2/nothing-here"))  # a 404
    assert_hardened(await client.post("/api/v1/auth/login", content=b"x" * (5 << 20)))  # 413


async def test_the_web_ui_page_carries_them_and_needs_no_inline_code(gateway: Any) -> None:
    client = await gateway()
    page = await client.get("/")
    assert page.status_code == 200
    assert_hardened(page)
    # Everything the page runs comes from its own origin's files: no inline script or
    # style that the policy would block.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text)
    assert "<style" not in page.text and " style=" not in page.text
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page.text)
    if (APP_DIR / "index.html").is_file():
        assert assets, "the built page names its assets"
    for asset in assets:
        assert_hardened(await client.get(asset))


async def test_a_page_framed_by_another_origin_is_refused(gateway: Any) -> None:
    client = await gateway()
    # What a browser checks before it renders the page inside another site's <iframe>.
    page = await client.get("/", headers={"Sec-Fetch-Dest": "iframe", "Referer": "https://evil"})
    assert directives(page.headers["content-security-policy"])["frame-ancestors"] == "'none'"
    assert page.headers["x-frame-options"] == "DENY"


async def test_the_api_docs_get_their_own_policy_still_unframeable(gateway: Any) -> None:
    client = await gateway()
    docs = await client.get("/docs")
    assert docs.status_code == 200
    csp = directives(docs.headers["content-security-policy"])
    assert csp["frame-ancestors"] == "'none'" and csp["default-src"] == "'self'"
    assert "https://cdn.jsdelivr.net" in csp["script-src"]


@pytest.mark.parametrize("length", [1, 31])
def test_a_jwt_secret_shorter_than_32_bytes_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, length: int
) -> None:
    monkeypatch.setenv("JWT_SECRET", "s" * length)
    with pytest.raises(ValidationError, match="JWT_SECRET must be at least 32 bytes"):
        GatewaySettings()  # type: ignore[call-arg]


def test_a_jwt_secret_of_32_bytes_or_none_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", "é" * 16)  # 16 characters, 32 bytes
    settings = GatewaySettings()  # type: ignore[call-arg]
    assert settings.jwt_secret is not None
    monkeypatch.setenv("JWT_SECRET", "")  # compose's `${JWT_SECRET:-}`: generate one
    assert GatewaySettings().jwt_secret is None  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "origins", ["*", "https://semantik.example.org,*", '["*"]', "https://*.example.org"]
)
def test_cors_origins_with_a_wildcard_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, origins: str
) -> None:
    monkeypatch.setenv("CORS_ORIGINS", origins)
    with pytest.raises(ValidationError, match="CORS_ORIGINS may not contain"):
        GatewaySettings()  # type: ignore[call-arg]


def test_named_cors_origins_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "http://localhost:8080, https://semantik.example.org")
    settings = GatewaySettings()  # type: ignore[call-arg]
    assert settings.cors_origins == ["http://localhost:8080", "https://semantik.example.org"]


async def test_metrics_without_the_token_on_a_non_loopback_bind_are_refused(
    gateway: Any,
) -> None:
    client = await gateway(host="0.0.0.0", metrics_token=TOKEN)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        refused = await client.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert "SEMANTIK_METRICS_TOKEN" in refused.json()["detail"]
        assert "semantik_" not in refused.text
    scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert scraped.status_code == 200 and "semantik_" in scraped.text


async def test_metrics_beyond_loopback_without_a_configured_token_say_to_set_one(
    gateway: Any,
) -> None:
    client = await gateway(host="0.0.0.0")
    refused = await client.get("/metrics")
    assert refused.status_code == 403
    assert "set SEMANTIK_METRICS_TOKEN" in refused.json()["detail"]
    assert (await client.get("/health")).status_code == 200  # the gateway itself runs


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
async def test_metrics_on_loopback_stay_open(gateway: Any, host: str) -> None:
    client = await gateway(host=host)
    scraped = await client.get("/metrics")
    assert scraped.status_code == 200 and "semantik_" in scraped.text
