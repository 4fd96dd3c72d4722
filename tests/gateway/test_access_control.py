"""Issue 21, access control over real HTTP and WebSocket before the real collections
and ingest services (``served.py``): registration, admins, collection roles on every
route the app has (a new route cannot skip the matrix), API keys and disabled users.
Each refusal is a 4xx with a message (or a closed socket) and stores nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from .edges import (
    BODIES,
    RESOURCE_PARAMS,
    bearer,
    endpoints,
    fill,
    refused,
)
from .served import ServedGateway, served_gateway

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

PASSWORD = "correct horse"
#: The least role each route about one collection needs (SPEC §11). Every such route
#: of the app must be here: ``test_every_route_obeys_the_roles`` fails otherwise.
NEEDS: dict[tuple[str, str], str] = {
    ("GET", "/api/v2/collections/{collection_id}"): "viewer",
    ("PATCH", "/api/v2/collections/{collection_id}"): "owner",
    ("DELETE", "/api/v2/collections/{collection_id}"): "owner",
    ("GET", "/api/v2/collections/{collection_id}/access"): "owner",
    ("PUT", "/api/v2/collections/{collection_id}/access/{principal_type}/{principal_id}"): "owner",
    ("DELETE", "/api/v2/collections/{collection_id}/access/{principal_type}/{principal_id}"): (
        "owner"
    ),
    ("GET", "/api/v2/collections/{collection_id}/sources"): "viewer",
    ("POST", "/api/v2/collections/{collection_id}/sources"): "editor",
    ("POST", "/api/v2/collections/{collection_id}/sources/preview"): "viewer",
    ("POST", "/api/v2/collections/{collection_id}/sources/upload"): "editor",
    ("POST", "/api/v2/collections/{collection_id}/sources/uploads"): "editor",
    ("PATCH", "/api/v2/collections/{collection_id}/sources/{source_id}"): "editor",
    ("DELETE", "/api/v2/collections/{collection_id}/sources/{source_id}"): "editor",
    ("POST", "/api/v2/collections/{collection_id}/sources/reembed"): "editor",
    ("POST", "/api/v2/collections/{collection_id}/sources/{source_id}/index"): "editor",
    ("GET", "/api/v2/collections/{collection_id}/column-sets"): "viewer",
    ("POST", "/api/v2/collections/{collection_id}/column-sets"): "editor",
    ("DELETE", "/api/v2/collections/{collection_id}/column-sets/{name}"): "editor",
    ("POST", "/api/v2/collections/{collection_id}/documents/retry"): "editor",
    ("GET", "/api/v2/collections/{collection_id}/documents"): "viewer",
    ("GET", "/api/v2/collections/{collection_id}/documents/{document_id}"): "viewer",
    ("GET", "/api/v2/collections/{collection_id}/documents/{document_id}/content"): "viewer",
    ("POST", "/api/v2/collections/{collection_id}/documents"): "editor",
    ("POST", "/api/v2/collections/{collection_id}/operations/index"): "editor",
    ("POST", "/api/v2/collections/{collection_id}/operations/reindex"): "editor",
    ("GET", "/api/v2/collections/{collection_id}/operations"): "viewer",
    ("POST", "/api/v2/collections/{collection_id}/search"): "viewer",
    ("GET", "/api/v2/operations/{operation_id}"): "viewer",
    ("POST", "/api/v2/operations/{operation_id}/cancel"): "editor",
}
RANK = {"viewer": 0, "editor": 1, "owner": 2}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    with served_gateway(tmp_path_factory.mktemp("access"), registration="closed") as gateway:
        yield gateway


@pytest.fixture
async def client(served: ServedGateway) -> Any:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        yield http


async def token_of(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    reply = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert reply.status_code == 200, reply.text
    token: str = reply.json()["access_token"]
    return token


async def operator(client: httpx.AsyncClient, served: ServedGateway) -> dict[str, str]:
    """The CLI's local account: an operator admin made by the gateway itself."""
    creds = json.loads((served.gateway_data / "secrets" / "cli_credentials.json").read_text())
    return bearer(await token_of(client, creds["username"], creds["password"]))


async def user(
    client: httpx.AsyncClient, served: ServedGateway, name: str, *, roots: bool = False
) -> tuple[str, dict[str, str]]:
    """A user made by an admin (registration is closed): their id and bearer header."""
    admin = await operator(client, served)
    made = await client.post(
        "/api/v1/users", json={"username": name, "password": PASSWORD}, headers=admin
    )
    assert made.status_code == 201, made.text
    user_id: str = made.json()["id"]
    if roots:
        grant = {"path": str(served.roots), "user_id": user_id}
        granted = await client.post("/api/v1/source-roots", json=grant, headers=admin)
        assert granted.status_code == 201, granted.text
    return user_id, bearer(await token_of(client, name))


async def test_the_first_account_is_admin_then_registration_is_closed_or_by_invite(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    info = (await client.get("/api/v1/auth/registration")).json()
    assert info == {"mode": "closed", "first_account": True}  # the operator is nobody
    first = {"username": "founder", "password": PASSWORD}
    assert (await client.post("/api/v1/auth/register", json=first)).status_code == 201
    founder = bearer(await token_of(client, "founder"))
    me = (await client.get("/api/v1/auth/me", headers=founder)).json()
    assert me["is_admin"] is True and me["teams"] == []
    stranger = {"username": "stranger", "password": PASSWORD}
    refused(await client.post("/api/v1/auth/register", json=stranger), 403, "ask an admin")
    # Invites: single use, and only an admin makes them or changes the mode.
    mode = {"mode": "invite"}
    put = await client.put("/api/v1/auth/registration", json=mode, headers=founder)
    assert put.status_code == 200
    refused(await client.post("/api/v1/auth/register", json=stranger), 403, "invite code")
    code = (await client.post("/api/v1/invites", json={}, headers=founder)).json()["code"]
    invited = await client.post("/api/v1/auth/register", json={**stranger, "invite_code": code})
    assert invited.status_code == 201, invited.text
    again = {"username": "second", "password": PASSWORD, "invite_code": code}
    refused(await client.post("/api/v1/auth/register", json=again), 403, "used")
    plain = bearer(await token_of(client, "stranger"))
    assert (await client.get("/api/v1/auth/me", headers=plain)).json()["is_admin"] is False
    for method, path, body in (
        ("GET", "/api/v1/users", None),
        ("POST", "/api/v1/users", {"username": "mine", "password": PASSWORD}),
        ("POST", "/api/v1/invites", {}),
        ("PUT", "/api/v1/auth/registration", {"mode": "open"}),
        ("POST", "/api/v1/teams", {"name": "cabal"}),
        ("POST", "/api/v1/source-roots", {"path": str(served.roots), "user_id": me["id"]}),
    ):
        reply = await client.request(method, path, json=body, headers=plain)
        refused(reply, 403, "admin")
    names = [u["username"] for u in (await client.get("/api/v1/users", headers=founder)).json()]
    assert "second" not in names and "mine" not in names
    put = await client.put("/api/v1/auth/registration", json={"mode": "closed"}, headers=founder)
    assert put.status_code == 200


async def test_every_route_obeys_the_roles(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    _, owner = await user(client, served, "olga", roots=True)
    viewer_id, viewer = await user(client, served, "vera")
    editor_id, editor = await user(client, served, "eddie", roots=True)
    created = await client.post("/api/v2/collections", json={"name": "shared"}, headers=owner)
    collection = created.json()["id"]
    folder = served.roots / "olgas"
    folder.mkdir(exist_ok=True)
    (folder / "rows.csv").write_text("text\nconfidential\n")
    base = f"/api/v2/collections/{collection}"
    added = await client.post(
        f"{base}/sources",
        json={"path": str(folder / "rows.csv"), "text_columns": ["text"]},
        headers=owner,
    )
    assert added.status_code == 202, added.text
    for who, role in ((viewer_id, "viewer"), (editor_id, "editor")):
        put = await client.put(f"{base}/access/user/{who}", json={"role": role}, headers=owner)
        assert put.status_code == 200, put.text
    listed = (await client.get("/api/v2/collections", headers=viewer)).json()["items"]
    assert [(c["id"], c["my_role"]) for c in listed] == [(collection, "viewer")]
    ids = {
        "collection_id": collection,
        "operation_id": added.json()["operation"]["id"],
        "source_id": added.json()["source"]["id"],
        "document_id": str(uuid4()),  # none yet: the access check comes first
    }
    routes = [e for e in endpoints(served) if e.params & RESOURCE_PARAMS]
    assert {(e.method, e.path) for e in routes} == set(NEEDS), "classify every new route"
    # Deletions last: the editor's removal of the source is queued, and the source is
    # gone for every route after it.
    for route in sorted(
        routes, key=lambda e: (e.method == "DELETE", RANK[NEEDS[(e.method, e.path)]])
    ):
        needed = NEEDS[(route.method, route.path)]
        url = fill(route.path, **{p: ids[p] for p in route.params & RESOURCE_PARAMS})
        body = json.loads(json.dumps(BODIES.get(route.path)).replace("{dir}", str(folder)))
        for headers, role in ((viewer, "viewer"), (editor, "editor")):
            if route.path.endswith(("/sources/upload", "/sources/uploads")):
                files = {"file": ("a.txt", b"a")}
                reply = await client.post(url, files=files, headers=headers)
            else:
                reply = await client.request(route.method, url, json=body, headers=headers)
            role_refusal = reply.status_code == 403 and (
                f"needs {needed}" in reply.text or "another user" in reply.text
            )
            expected = RANK[role] < RANK[needed]
            assert role_refusal == expected, (role, route.method, url, reply.text[:200])
    # The editor's refusals stored nothing: the collection is still olga's, named so.
    kept = (await client.get(base, headers=owner)).json()
    assert kept["name"] == "shared" and kept["my_role"] == "owner"
    access = (await client.get(f"{base}/access", headers=owner)).json()
    assert sorted((g["principal_name"], g["role"]) for g in access["grants"]) == [
        ("eddie", "editor"),
        ("vera", "viewer"),
    ]


async def test_a_team_grant_and_a_revoke_reach_an_open_socket_at_once(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    _, owner = await user(client, served, "tina")
    member_id, member = await user(client, served, "maxim")
    admin = await operator(client, served)
    team = (await client.post("/api/v1/teams", json={"name": "crew"}, headers=admin)).json()
    joined = await client.post(
        f"/api/v1/teams/{team['id']}/members", json={"user_id": member_id}, headers=admin
    )
    assert joined.status_code == 200, joined.text
    collection = (
        await client.post("/api/v2/collections", json={"name": "crew"}, headers=owner)
    ).json()["id"]
    base = f"/api/v2/collections/{collection}"
    put = await client.put(
        f"{base}/access/team/{team['id']}", json={"role": "viewer"}, headers=owner
    )
    assert put.status_code == 200, put.text
    assert (await client.get(base, headers=member)).json()["my_role"] == "viewer"
    token = member["Authorization"].split()[1]
    ws_url = served.url.replace("http", "ws", 1) + f"/ws?token={token}"
    async with connect(ws_url) as ws:
        await ws.send(json.dumps({"type": "subscribe_collection", "collection_id": collection}))
        await _frame(ws, "subscribed")
        revoked = await client.delete(f"{base}/access/team/{team['id']}", headers=owner)
        assert revoked.status_code == 204
        error = await _frame(ws, "error")
        assert error["data"]["code"] == "forbidden"
    refused(await client.get(base, headers=member), 403)
    listed = (await client.get("/api/v2/collections", headers=member)).json()
    assert listed["total"] == 0


async def test_api_keys_are_narrowed_to_their_scopes_and_collections_and_revoked_at_once(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    _, owner = await user(client, served, "kai")
    mine = (await client.post("/api/v2/collections", json={"name": "a"}, headers=owner)).json()
    other = (await client.post("/api/v2/collections", json={"name": "b"}, headers=owner)).json()
    body = {"name": "bot", "scopes": ["search"], "collection_ids": [mine["id"]]}
    made = await client.post("/api/v1/api-keys", json=body, headers=owner)
    assert made.status_code == 201, made.text
    key = bearer(made.json()["key"])
    listed = (await client.get("/api/v1/api-keys", headers=owner)).json()
    assert [k["name"] for k in listed] == ["bot"] and "key" not in listed[0]
    listing = await client.get("/api/v2/collections", headers=key)
    assert listing.status_code == 200, listing.text
    seen = listing.json()["items"]
    assert [c["id"] for c in seen] == [mine["id"]]
    refused(await client.get(f"/api/v2/collections/{other['id']}", headers=key), 403, "not allowed")
    refused(
        await client.post("/api/v2/collections", json={"name": "c"}, headers=key), 403, "scopes"
    )
    refused(await client.get("/api/v2/operations", headers=key), 403, "scopes")
    refused(await client.post("/api/v1/api-keys", json=body, headers=key), 403, "scopes")
    multi = {"query": "x", "collection_ids": [mine["id"], other["id"]]}
    refused(await client.post("/api/v2/search", json=multi, headers=key), 403, "not allowed")
    ws_url = served.url.replace("http", "ws", 1) + f"/ws?token={made.json()['key']}"
    async with connect(ws_url) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    names = [
        c["name"] for c in (await client.get("/api/v2/collections", headers=owner)).json()["items"]
    ]
    assert names == ["a", "b"]  # nothing the key tried was stored
    deleted = await client.delete(f"/api/v1/api-keys/{made.json()['id']}", headers=owner)
    assert deleted.status_code == 204
    refused(await client.get("/api/v2/collections", headers=key), 401, "revoked")
    forged = bearer(made.json()["key"][:-4] + "AAAA")
    refused(await client.get("/api/v2/collections", headers=forged), 401)


async def test_a_disabled_user_loses_tokens_keys_and_sockets_at_once(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    user_id, headers = await user(client, served, "dora")
    login = await client.post("/api/v1/auth/login", json={"username": "dora", "password": PASSWORD})
    refresh = login.json()["refresh_token"]
    key = (
        await client.post(
            "/api/v1/api-keys", json={"name": "k", "scopes": ["read"]}, headers=headers
        )
    ).json()["key"]
    token = headers["Authorization"].split()[1]
    ws_url = served.url.replace("http", "ws", 1) + f"/ws?token={token}"
    async with connect(ws_url) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        await _frame(ws, "pong")
        admin = await operator(client, served)
        disabled = await client.patch(
            f"/api/v1/users/{user_id}", json={"disabled": True}, headers=admin
        )
        assert disabled.status_code == 200 and disabled.json()["disabled"] is True
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                while True:
                    await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    refused(await client.get("/api/v1/auth/me", headers=headers), 401, "disabled")
    refused(await client.get("/api/v2/collections", headers=bearer(key)), 401, "disabled")
    again = await client.post("/api/v1/auth/login", json={"username": "dora", "password": PASSWORD})
    refused(again, 401, "disabled")
    refused(await client.post("/api/v1/auth/refresh", json={"refresh_token": refresh}), 401)


async def test_a_plain_user_adds_paths_only_under_granted_roots_and_never_semantiks_data(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    _, plain = await user(client, served, "paul")
    collection = (
        await client.post("/api/v2/collections", json={"name": "p"}, headers=plain)
    ).json()["id"]
    base = f"/api/v2/collections/{collection}"
    (served.roots / "team").mkdir(exist_ok=True)
    (served.roots / "team" / "notes.txt").write_text("notes")
    refused(
        await client.post(
            f"{base}/sources", json={"path": str(served.roots / "team")}, headers=plain
        ),
        403,
        "no source roots were granted",
    )
    admin = await operator(client, served)
    me = (await client.get("/api/v1/auth/me", headers=plain)).json()
    grant = {"path": str(served.roots / "team"), "user_id": me["id"]}
    assert (await client.post("/api/v1/source-roots", json=grant, headers=admin)).status_code == 201
    (served.roots / "private").mkdir(exist_ok=True)
    (served.roots / "team" / ".hidden").write_text("hidden")
    link = served.roots / "team" / "data-link"
    if not link.exists():
        link.symlink_to(served.gateway_data)
    attempts = {
        str(served.roots / "private"): "outside the source roots granted",
        f"{served.roots}/team/../private": "outside the source roots granted",
        str(served.gateway_data / "secrets"): "outside the source roots granted",
        str(served.data): "outside the source roots granted",
        str(served.roots / "team" / ".hidden"): "hidden",
        str(link): "outside the source roots granted",
        str(link / "secrets" / "cli_credentials.json"): "outside the source roots granted",
    }
    for path, reason in attempts.items():
        reply = await client.post(f"{base}/sources", json={"path": path}, headers=plain)
        refused(reply, 403, reason)
    assert (await client.get(f"{base}/sources", headers=plain)).json()["items"] == []
    ok = await client.post(
        f"{base}/sources", json={"path": str(served.roots / "team")}, headers=plain
    )
    assert ok.status_code == 202, ok.text


async def _frame(ws: Any, kind: str) -> dict[str, Any]:
    # Generous: on a loaded 2-core machine an event's trip to the socket once took over 10 s.
    async with asyncio.timeout(30):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame


async def test_nobody_lists_or_revokes_another_users_key_or_reads_their_grants(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    _, owner = await user(client, served, "nadia")
    _, other = await user(client, served, "otto")
    made = await client.post(
        "/api/v1/api-keys", json={"name": "nadias", "scopes": ["read"]}, headers=owner
    )
    key_id = made.json()["id"]
    assert (await client.get("/api/v1/api-keys", headers=other)).json() == []
    refused(await client.delete(f"/api/v1/api-keys/{key_id}", headers=other), 404, "not found")
    still = await client.get("/api/v2/collections", headers=bearer(made.json()["key"]))
    assert still.status_code == 200  # the key lives on
    assert (await client.get("/api/v1/source-roots", headers=other)).json() == []
    assert (await client.get("/api/v1/teams", headers=other)).json() == []
