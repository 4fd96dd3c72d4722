"""``/api/v1/auth`` over HTTP: register, login, rotating refresh, logout, me, and the
signing secret kept across restarts. Needs no bus: auth is the gateway's own."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_DNS, uuid5

import httpx
import pytest
from fastapi import FastAPI
from gateway_service.http_app import create_app
from gateway_service.users import user_id_for
from semantik_runtime.bus import Bus

from .conftest import gateway_settings

pytestmark = pytest.mark.integration

ALICE = {"username": "alice", "password": "correct horse", "email": "alice@example.org"}


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(gateway_settings(tmp_path, "nats://127.0.0.1:1"))
    async with client_for(app) as http:
        yield http
    app.state.context.users.close()


async def login(client: httpx.AsyncClient, password: str = "correct horse") -> dict[str, Any]:
    creds = {"username": "alice", "password": password}
    reply = await client.post("/api/v1/auth/login", json=creds)
    assert reply.status_code == 200, reply.text
    pair: dict[str, Any] = reply.json()
    return pair


async def test_register_then_login_and_me(client: httpx.AsyncClient) -> None:
    reply = await client.post("/api/v1/auth/register", json=ALICE)
    assert reply.status_code == 201
    user = reply.json()
    assert user["username"] == "alice" and user["email"] == "alice@example.org"
    assert user["id"] == str(user_id_for("ALICE"))
    assert "password" not in reply.text and "argon2" not in reply.text

    pair = await login(client)
    assert pair["token_type"] == "bearer" and pair["expires_in"] > 0
    me = await client.get("/api/v1/auth/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200 and me.json()["id"] == user["id"]


async def test_a_taken_name_in_any_letter_case_is_a_conflict(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/auth/register", json=ALICE)).status_code == 201
    again = await client.post("/api/v1/auth/register", json={**ALICE, "username": "Alice"})
    assert again.status_code == 409
    assert "taken" in again.json()["detail"]


@pytest.mark.reliability
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "al", "password": "correct horse"}, "username"),
        ({"username": "al ice", "password": "correct horse"}, "username"),
        ({"username": "alice", "password": "short"}, "password"),
        ({"username": "alice", "password": "correct horse", "email": "nope"}, "email"),
        ({"password": "correct horse"}, "username"),
    ],
)
async def test_bad_registrations_name_the_field(
    client: httpx.AsyncClient, body: dict[str, str], field: str
) -> None:
    reply = await client.post("/api/v1/auth/register", json=body)
    assert reply.status_code == 422
    assert any(error["loc"][-1] == field for error in reply.json()["detail"])


@pytest.mark.reliability
async def test_bad_credentials_are_401(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/auth/register", json=ALICE)
    wrong = await client.post("/api/v1/auth/login", json={"username": "alice", "password": "x"})
    nobody = await client.post("/api/v1/auth/login", json={"username": "bob", "password": "x"})
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json()["detail"] == nobody.json()["detail"]


@pytest.mark.reliability
async def test_me_needs_a_valid_access_token(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/auth/register", json=ALICE)
    pair = await login(client)
    assert (await client.get("/api/v1/auth/me")).status_code == 401
    as_refresh = await client.get("/api/v1/auth/me", headers=bearer(pair["refresh_token"]))
    assert as_refresh.status_code == 401
    forged = await client.get("/api/v1/auth/me", headers=bearer(pair["access_token"] + "x"))
    assert forged.status_code == 401


@pytest.mark.reliability
async def test_refresh_rotates_and_a_replayed_token_ends_the_session(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/api/v1/auth/register", json=ALICE)
    first = await login(client)
    reply = await refresh(client, first)
    assert reply.status_code == 200
    second = reply.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/api/v1/auth/me", headers=bearer(second["access_token"]))).is_success

    assert (await refresh(client, first)).status_code == 401
    # The old token came back: someone else may hold the family, so all of it is revoked,
    # and the session's access tokens with it.
    assert (await refresh(client, second)).status_code == 401
    revoked = await client.get("/api/v1/auth/me", headers=bearer(second["access_token"]))
    assert revoked.status_code == 401 and "session has ended" in revoked.json()["detail"]
    # Other sessions (another login) are untouched.
    other = await login(client)
    assert (await refresh(client, other)).status_code == 200


@pytest.mark.reliability
async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/auth/register", json=ALICE)
    pair = await login(client)
    other = await login(client)
    body = {"refresh_token": pair["refresh_token"]}
    assert (await client.post("/api/v1/auth/logout", json=body)).status_code == 204
    signed_out = await client.get("/api/v1/auth/me", headers=bearer(pair["access_token"]))
    assert signed_out.status_code == 401
    # Only that session ended: another login of the same user goes on.
    assert (await client.get("/api/v1/auth/me", headers=bearer(other["access_token"]))).is_success
    assert (await client.post("/api/v1/auth/refresh", json=body)).status_code == 401
    assert (await client.post("/api/v1/auth/logout", json=body)).status_code == 401
    garbage = await client.post("/api/v1/auth/refresh", json={"refresh_token": "not-a-jwt"})
    assert garbage.status_code == 401


@pytest.mark.reliability
async def test_the_generated_secret_is_private_and_survives_a_restart(tmp_path: Path) -> None:
    settings = gateway_settings(tmp_path, "nats://127.0.0.1:1")
    first = create_app(settings)
    secret = settings.data_dir / "secrets" / "jwt_secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    async with client_for(first) as http:
        await http.post("/api/v1/auth/register", json=ALICE)
        pair = await login(http)
    first.state.context.users.close()

    second = create_app(settings)  # a restart: same data dir, same secret, same users
    async with client_for(second) as http:
        me = await http.get("/api/v1/auth/me", headers=bearer(pair["access_token"]))
        assert me.status_code == 200 and me.json()["username"] == "alice"
    second.state.context.users.close()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


async def test_jwt_secret_from_the_environment_wins(tmp_path: Path) -> None:
    secret = str(uuid5(NAMESPACE_DNS, "x")) * 2
    settings = gateway_settings(tmp_path, "nats://127.0.0.1:1", jwt_secret=secret)
    app = create_app(settings)
    assert not (settings.data_dir / "secrets" / "jwt_secret").exists()
    app.state.context.users.close()


async def refresh(client: httpx.AsyncClient, pair: dict[str, Any]) -> httpx.Response:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.reliability
async def test_a_session_ended_on_one_gateway_is_refused_by_another(
    tmp_path: Path, nats_url: str
) -> None:
    # Two gateway processes of one installation: one user store, one secret, one bus.
    settings = gateway_settings(tmp_path, nats_url)
    buses = [await Bus.connect(nats_url, f"gateway-{n}") for n in (1, 2)]
    first, second = (create_app(settings, bus) for bus in buses)
    try:
        async with client_for(first) as one, client_for(second) as two:
            await one.post("/api/v1/auth/register", json=ALICE)
            pair = await login(one)
            me = await two.get("/api/v1/auth/me", headers=bearer(pair["access_token"]))
            assert me.status_code == 200  # the second gateway listens from its first request
            body = {"refresh_token": pair["refresh_token"]}
            assert (await one.post("/api/v1/auth/logout", json=body)).status_code == 204
            refused = None
            async with asyncio.timeout(10):
                while refused != 401:
                    headers = bearer(pair["access_token"])
                    refused = (await two.get("/api/v1/auth/me", headers=headers)).status_code
                    await asyncio.sleep(0.02)
            detail = await two.get("/api/v1/auth/me", headers=bearer(pair["access_token"]))
            assert "signed out" in detail.json()["detail"]
    finally:
        for app in (first, second):
            app.state.context.users.close()
        for bus in buses:
            await bus.close()
