"""Browser sessions over HTTP (SPEC §11): the refresh token in an httpOnly SameSite=Strict
cookie, refresh and logout by cookie or body, a stolen refresh token replayed from a
script, and ended sessions that stay ended across a gateway restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from gateway_service.api.routes.auth import REFRESH_COOKIE
from gateway_service.config import GatewaySettings
from gateway_service.http_app import create_app

from .conftest import gateway_settings

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

ALICE = {"username": "alice", "password": "correct horse"}
BOB = {"username": "bob", "password": "battery staple"}


def client_for(app: FastAPI, base_url: str = "http://gateway") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@pytest.fixture
def settings(tmp_path: Path) -> GatewaySettings:
    return gateway_settings(tmp_path, "nats://127.0.0.1:1")


@pytest.fixture
async def app(settings: GatewaySettings) -> AsyncIterator[FastAPI]:
    gateway = create_app(settings)
    yield gateway
    gateway.state.context.users.close()


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies, as a browser does."""
    async with client_for(app) as http:
        await http.post("/api/v1/auth/register", json=ALICE)
        yield http


def refresh_cookie(reply: httpx.Response) -> Any:
    """The refresh cookie the reply sets (its value and attributes)."""
    jar = SimpleCookie()
    for header in reply.headers.get_list("set-cookie"):
        jar.load(header)
    return jar[REFRESH_COOKIE]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def me(http: httpx.AsyncClient, access_token: str) -> httpx.Response:
    return await http.get("/api/v1/auth/me", headers=bearer(access_token))


async def test_login_sets_an_http_only_strict_cookie_scoped_to_auth(
    browser: httpx.AsyncClient,
) -> None:
    reply = await browser.post("/api/v1/auth/login", json=ALICE)
    assert reply.status_code == 200
    cookie = refresh_cookie(reply)
    assert cookie.value == reply.json()["refresh_token"]  # API clients read the body
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "strict"
    assert cookie["path"] == "/api/v1/auth"
    assert not cookie["secure"]  # plain http (localhost): a Secure cookie would be dropped
    assert int(cookie["max-age"]) > 0


async def test_the_cookie_is_secure_over_https(settings: GatewaySettings) -> None:
    app = create_app(settings)
    async with client_for(app, "https://gateway") as http:
        await http.post("/api/v1/auth/register", json=ALICE)
        reply = await http.post("/api/v1/auth/login", json=ALICE)
        assert refresh_cookie(reply)["secure"] is True
    app.state.context.users.close()


async def test_refresh_by_cookie_rotates_it_and_logout_clears_it(
    browser: httpx.AsyncClient,
) -> None:
    first = (await browser.post("/api/v1/auth/login", json=ALICE)).json()
    # No body: the cookie alone, as the web UI sends it.
    rotated = await browser.post("/api/v1/auth/refresh")
    assert rotated.status_code == 200, rotated.text
    assert refresh_cookie(rotated).value == rotated.json()["refresh_token"]
    assert rotated.json()["refresh_token"] != first["refresh_token"]
    assert browser.cookies[REFRESH_COOKIE] == rotated.json()["refresh_token"]
    assert (await me(browser, rotated.json()["access_token"])).status_code == 200

    out = await browser.post("/api/v1/auth/logout")
    assert out.status_code == 204
    assert refresh_cookie(out).value == "" and int(refresh_cookie(out)["max-age"]) == 0
    assert REFRESH_COOKIE not in browser.cookies
    refused = await me(browser, rotated.json()["access_token"])
    assert refused.status_code == 401 and "session has ended" in refused.json()["detail"]
    assert (await browser.post("/api/v1/auth/refresh")).status_code == 401


async def test_refresh_and_logout_without_cookie_or_body_are_401(
    browser: httpx.AsyncClient,
) -> None:
    for route in ("/api/v1/auth/refresh", "/api/v1/auth/logout"):
        reply = await browser.post(route)
        assert reply.status_code == 401, route
        assert "no refresh token" in reply.json()["detail"]


async def test_a_stolen_refresh_token_replayed_from_a_script_ends_the_session(
    browser: httpx.AsyncClient, app: FastAPI
) -> None:
    stolen = (await browser.post("/api/v1/auth/login", json=ALICE)).json()["refresh_token"]
    # The browser goes on: its cookie rotates, and the stolen token is now stale.
    rotated = (await browser.post("/api/v1/auth/refresh")).json()
    # The thief's script, without the browser's cookie, presents the stolen token.
    async with client_for(app) as thief:
        replay = await thief.post("/api/v1/auth/refresh", json={"refresh_token": stolen})
    assert replay.status_code == 401
    assert REFRESH_COOKIE not in replay.headers.get("set-cookie", "")
    # Someone else holds the session: it ends for everyone, the browser included.
    assert (await browser.post("/api/v1/auth/refresh")).status_code == 401
    assert (await me(browser, rotated["access_token"])).status_code == 401


async def test_a_token_after_sign_out_and_a_gateway_restart_is_refused(
    settings: GatewaySettings,
) -> None:
    first = create_app(settings)
    async with client_for(first) as http:
        await http.post("/api/v1/auth/register", json=ALICE)
        by_body = (await http.post("/api/v1/auth/login", json=ALICE)).json()
        by_cookie = (await http.post("/api/v1/auth/login", json=ALICE)).json()
        assert (await http.post("/api/v1/auth/logout")).status_code == 204  # the cookie's
        body = {"refresh_token": by_body["refresh_token"]}
        assert (await http.post("/api/v1/auth/logout", json=body)).status_code == 204
    first.state.context.users.close()

    second = create_app(settings)  # a restart: a new process folds the log again
    async with client_for(second) as http:
        for pair in (by_body, by_cookie):
            refused = await me(http, pair["access_token"])
            assert refused.status_code == 401
            assert "session has ended" in refused.json()["detail"]
        # Another session of the same user is unaffected.
        fresh = (await http.post("/api/v1/auth/login", json=ALICE)).json()
        assert (await me(http, fresh["access_token"])).status_code == 200
    second.state.context.users.close()


async def test_sessions_ended_by_disabling_stay_ended_after_re_enabling_and_restart(
    settings: GatewaySettings,
) -> None:
    first = create_app(settings)
    async with client_for(first) as http:
        await http.post("/api/v1/auth/register", json=ALICE)  # the first account: admin
        admin = bearer((await http.post("/api/v1/auth/login", json=ALICE)).json()["access_token"])
        bob_id = (await http.post("/api/v1/auth/register", json=BOB)).json()["id"]
        bob = (await http.post("/api/v1/auth/login", json=BOB)).json()
        for disabled in (True, False):
            changed = await http.patch(
                f"/api/v1/users/{bob_id}", json={"disabled": disabled}, headers=admin
            )
            assert changed.status_code == 200
        assert (await me(http, bob["access_token"])).status_code == 401
    first.state.context.users.close()

    second = create_app(settings)
    async with client_for(second) as http:
        assert (await me(http, bob["access_token"])).status_code == 401
        again = (await http.post("/api/v1/auth/login", json=BOB)).json()
        assert (await me(http, again["access_token"])).status_code == 200
    second.state.context.users.close()


async def test_ended_sessions_are_forgotten_once_their_access_tokens_expired(
    app: FastAPI,
) -> None:
    index = app.state.context.users.index
    async with client_for(app) as http:
        await http.post("/api/v1/auth/register", json=ALICE)
        await http.post("/api/v1/auth/login", json=ALICE)
        await http.post("/api/v1/auth/logout")
    assert len(index.ended_sessions) == 1
    (session,) = index.ended_sessions
    assert index.session_ended(session)
    index.access_ttl = index.access_ttl * 0  # as if the access tokens had all expired
    assert not index.session_ended(session)
    index.catch_up()
    assert index.ended_sessions == {}
