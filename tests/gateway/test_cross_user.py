"""Issue 11, attacks at the gateway's edge: one user reaches nothing of another's on any
route or subscription the app has, or will have, and no forged, expired or revoked token
is accepted anywhere."""

from __future__ import annotations

import json
from uuid import uuid4

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from .conftest import read_until
from .edges import (
    RESOURCE_PARAMS,
    SUBSCRIPTIONS,
    bearer,
    body_for,
    endpoints,
    fill,
    forged_tokens,
    new_collection,
    nothing_of,
    refused,
    resource_routes,
    sign_in,
)
from .served import ServedGateway

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


async def test_no_route_and_no_subscription_reaches_another_users_resources(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    alice = bearer((await sign_in(client, "alice"))["access_token"])
    bob_pair = await sign_in(client, "bob")
    bob = bearer(bob_pair["access_token"])
    collection = await new_collection(client, alice, "private")
    folder = served.roots / "alices"
    folder.mkdir(exist_ok=True)
    (folder / "rows.csv").write_text("text\nconfidential\n")
    added = await client.post(
        f"/api/v2/collections/{collection}/sources",
        json={"path": str(folder / "rows.csv"), "text_columns": ["text"]},
        headers=alice,
    )
    assert added.status_code == 202, added.text
    ids = {
        "collection_id": collection,
        "operation_id": added.json()["operation"]["id"],
        "source_id": added.json()["source"]["id"],
        "document_id": str(uuid4()),  # none yet: the access check comes first
    }
    await nothing_of(client, endpoints(served), bob, [*ids.values(), "private", "rows.csv"])
    bobs_folder = served.roots / "bobs"
    bobs_folder.mkdir(exist_ok=True)
    searched = len(served.searches)
    routes = resource_routes(served)
    for route in routes:
        method, template, params = route.method, route.path, route.params
        url = fill(template, **{p: ids[p] for p in params & RESOURCE_PARAMS})
        body = body_for(template, bobs_folder)
        if template.endswith(("/sources/upload", "/sources/uploads")):
            reply = await client.post(url, files={"file": ("a.txt", b"a")}, headers=bob)
        else:
            reply = await client.request(method, url, json=body, headers=bob)
        assert reply.status_code in (403, 404), (method, url, reply.status_code, reply.text[:200])
    multi = {"query": "confidential", "collection_ids": [collection]}
    refused(await client.post("/api/v2/search", json=multi, headers=bob), 403, "another user")
    assert len(served.searches) == searched  # nothing of bob's reached the search service
    # Routes about no one resource answer bob with nothing of alice's: not her ids before
    # he has sent them (his refused attempts are in his audit log), never her names.
    await nothing_of(client, endpoints(served), bob, ["private", "rows.csv", "confidential"])
    async with connect(
        f"{served.url.replace('http', 'ws')}/ws?token={bob_pair['access_token']}"
    ) as ws:
        assert SUBSCRIPTIONS == ["collection", "operation"] or len(SUBSCRIPTIONS) >= 2
        for kind in SUBSCRIPTIONS:
            await ws.send(
                json.dumps({"type": f"subscribe_{kind}", f"{kind}_id": ids[f"{kind}_id"]})
            )
            [error] = await read_until(ws, lambda f: f["type"] == "error")
            assert error["data"]["code"] == "forbidden", (kind, error)
            with_seq = {"type": f"subscribe_{kind}", f"{kind}_id": ids[f"{kind}_id"], "last_seq": 0}
            await ws.send(json.dumps(with_seq))
            [error] = await read_until(ws, lambda f: f["type"] == "error")
            assert error["data"]["code"] == "forbidden", (kind, error)
    # alice's things are all there, untouched
    theirs = await client.get(f"/api/v2/collections/{collection}", headers=alice)
    assert theirs.json()["name"] == "private"
    sources = await client.get(f"/api/v2/collections/{collection}/sources", headers=alice)
    assert [s["id"] for s in sources.json()["items"]] == [ids["source_id"]]


async def test_expired_tampered_and_revoked_tokens_are_refused_everywhere(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    pair = await sign_in(client, "tokenholder")
    other = (
        await client.get(
            "/api/v1/auth/me", headers=bearer((await sign_in(client, "victim"))["access_token"])
        )
    ).json()["id"]
    tokens = forged_tokens(served, pair["access_token"], pair["refresh_token"], other)
    assert (
        await client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
    ).status_code == 204
    tokens["signed out"] = pair["access_token"]
    ws_url = f"{served.url.replace('http', 'ws')}/ws"
    for what, token in tokens.items():
        for url in ("/api/v1/auth/me", "/api/v2/collections", "/api/v2/operations"):
            reply = await client.get(url, headers=bearer(token))
            assert reply.status_code == 401, (what, url, reply.text)
            assert reply.headers["WWW-Authenticate"] == "Bearer"
        create = await client.post(
            "/api/v2/collections", json={"name": what}, headers=bearer(token)
        )
        assert create.status_code == 401, (what, create.text)
        async with connect(f"{ws_url}?token={token}") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008, what
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 401  # the session is over for good
    victim = await sign_in(client, "victim")
    mine = await client.get("/api/v2/collections", headers=bearer(victim["access_token"]))
    assert mine.json()["total"] == 0  # nothing was created in the victim's name
