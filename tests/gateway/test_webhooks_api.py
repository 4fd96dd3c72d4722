"""``/api/v2/webhooks`` over real HTTP before the real collections service (``served.py``):
the secret shown once, owner-only access, scopes and key collections, bad input and
every SSRF spelling refused with a 422 that stores nothing, and the per-user limit.

The gateway runs with ``SEMANTIK_WEBHOOK_ALLOW_PRIVATE`` off, so only a public address is
accepted; the webhooks made here name events that nothing in these tests publishes and
are deleted, so no delivery leaves the machine."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import pytest

from .edges import bearer, new_collection, refused, sign_in
from .served import ServedGateway

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

#: A public address (IANA's example.com): accepted without DNS, never delivered to here.
PUBLIC = "https://93.184.215.14/semantik-hook"
#: An event no test here causes (nothing is ever removed).
QUIET = ["DocumentRemoved"]
SSRF = [
    "http://127.0.0.1/",
    "http://127.0.0.1:8080/admin",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://017700000001/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://10.0.0.5/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://[fc00::1]/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://240.0.0.1/",
    "http://localhost/",
    "http://localhost:8080/hook",
]


async def hooks_of(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    reply = await client.get("/api/v2/webhooks", headers=headers)
    assert reply.status_code == 200, reply.text
    listed: list[dict[str, Any]] = reply.json()
    return listed


async def api_key(
    client: httpx.AsyncClient, headers: dict[str, str], scopes: list[str], **extra: Any
) -> dict[str, str]:
    body = {"name": f"key {uuid4().hex[:6]}", "scopes": scopes, **extra}
    made = await client.post("/api/v1/api-keys", json=body, headers=headers)
    assert made.status_code == 201, made.text
    return bearer(made.json()["key"])


async def test_a_webhook_is_made_with_its_secret_shown_once_then_read_paused_and_deleted(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    owner = bearer((await sign_in(client, "hooker"))["access_token"])
    body = {"url": PUBLIC, "events": QUIET, "description": "CI"}
    made = await client.post("/api/v2/webhooks", json=body, headers=owner)
    assert made.status_code == 201, made.text
    hook = made.json()
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 40
    assert hook["url"] == PUBLIC and hook["events"] == QUIET and hook["active"] is True
    assert hook["collection_ids"] is None and hook["deactivated_reason"] is None
    assert hook["failing_since"] is None and hook["last_delivery_at"] is None
    path = f"/api/v2/webhooks/{hook['id']}"
    second = await client.post(
        "/api/v2/webhooks", json={"url": PUBLIC, "events": ["*"]}, headers=owner
    )
    assert second.status_code == 201 and second.json()["secret"] != hook["secret"]
    listed = await hooks_of(client, owner)
    assert [h["id"] for h in listed] == [second.json()["id"], hook["id"]]  # newest first
    got = await client.get(path, headers=owner)
    assert got.status_code == 200 and got.json()["description"] == "CI"
    for answer in (*listed, got.json()):
        assert "secret" not in answer  # shown once, never again
    assert hook["secret"] not in (await client.get("/api/v2/webhooks", headers=owner)).text
    paused = await client.patch(path, json={"active": False}, headers=owner)
    assert paused.status_code == 200 and paused.json()["active"] is False
    assert paused.json()["deactivated_reason"] is None  # the owner's pause, not the system's
    resumed = await client.patch(path, json={"active": True}, headers=owner)
    assert resumed.json()["active"] is True
    for each in (path, f"/api/v2/webhooks/{second.json()['id']}"):
        assert (await client.delete(each, headers=owner)).status_code == 204
    refused(await client.get(path, headers=owner), 404, "not found")
    refused(await client.delete(path, headers=owner), 404, "not found")
    assert await hooks_of(client, owner) == []


async def test_another_users_webhook_is_not_found_and_stays_untouched(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    alice = bearer((await sign_in(client, "hook-alice"))["access_token"])
    bob = bearer((await sign_in(client, "hook-bob"))["access_token"])
    made = await client.post(
        "/api/v2/webhooks", json={"url": PUBLIC, "events": QUIET}, headers=alice
    )
    hook_id = made.json()["id"]
    path = f"/api/v2/webhooks/{hook_id}"
    refused(await client.get(path, headers=bob), 404, hook_id)
    refused(await client.patch(path, json={"active": False}, headers=bob), 404, hook_id)
    refused(await client.delete(path, headers=bob), 404, hook_id)
    refused(await client.get(f"{path}/deliveries", headers=bob), 404, hook_id)
    assert await hooks_of(client, bob) == []
    kept = (await client.get(path, headers=alice)).json()
    assert kept["active"] is True and kept["id"] == hook_id
    assert (await client.delete(path, headers=alice)).status_code == 204


async def test_bad_input_and_every_ssrf_spelling_is_a_422_that_stores_nothing(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    owner = bearer((await sign_in(client, "hook-mallory"))["access_token"])
    refused(await client.get("/api/v2/webhooks/not-a-uuid", headers=owner), 422, "webhook_id")
    refused(
        await client.patch("/api/v2/webhooks/1234", json={"active": False}, headers=owner),
        422,
        "webhook_id",
    )
    bad_bodies = [
        ({"url": PUBLIC, "events": ["NoSuchEvent"]}, "unknown event type 'NoSuchEvent'"),
        ({"url": PUBLIC, "events": []}, "events"),
        ({"url": PUBLIC}, "events"),
        ({"url": PUBLIC, "events": "*"}, "events"),
        ({"url": PUBLIC, "events": ["*"], "collection_ids": ["nope"]}, "collection_ids"),
        ({"url": PUBLIC, "events": ["*"], "collection_ids": []}, "collection_ids"),
        ({"url": "ftp://93.184.215.14/", "events": ["*"]}, "scheme must be http or https"),
        ({"url": "file:///etc/passwd", "events": ["*"]}, "scheme must be http or https"),
        ({"url": "https://u:p@93.184.215.14/", "events": ["*"]}, "credentials"),
        ({"url": "https://", "events": ["*"]}, "url"),
        ({"url": "https://no-such-host.invalid/", "events": ["*"]}, "does not resolve"),
    ]
    for body, words in bad_bodies:
        reply = await client.post("/api/v2/webhooks", json=body, headers=owner)
        refused(reply, 422, words)
    for url in SSRF:
        reply = await client.post(
            "/api/v2/webhooks", json={"url": url, "events": ["*"]}, headers=owner
        )
        refused(reply, 422, "SEMANTIK_WEBHOOK_ALLOW_PRIVATE")
        assert "resolves to" in reply.json()["detail"], url
    localhost = await client.post(
        "/api/v2/webhooks", json={"url": "http://localhost/", "events": ["*"]}, headers=owner
    )
    refused(localhost, 422, "'localhost' resolves to", "loopback")
    assert await hooks_of(client, owner) == []


async def test_scopes_and_a_keys_collections_bound_what_a_key_may_do(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    owner = bearer((await sign_in(client, "hook-keys"))["access_token"])
    stranger = bearer((await sign_in(client, "hook-stranger"))["access_token"])
    first = await new_collection(client, owner, "first")
    second = await new_collection(client, owner, "second")
    theirs = await new_collection(client, stranger, "theirs")
    body = {"url": PUBLIC, "events": QUIET}
    searcher = await api_key(client, owner, ["search"])
    refused(await client.post("/api/v2/webhooks", json=body, headers=searcher), 403, "scopes")
    refused(await client.get("/api/v2/webhooks", headers=searcher), 403, "scopes")
    reader = await api_key(client, owner, ["read"])
    assert (await client.get("/api/v2/webhooks", headers=reader)).status_code == 200
    refused(await client.post("/api/v2/webhooks", json=body, headers=reader), 403, "scopes")
    narrow = await api_key(client, owner, ["write"], collection_ids=[first])
    refused(
        await client.post(
            "/api/v2/webhooks", json={**body, "collection_ids": [second]}, headers=narrow
        ),
        403,
        f"not allowed collection {second}",
    )
    refused(
        await client.post("/api/v2/webhooks", json=body, headers=narrow),
        403,
        "name them in collection_ids",
    )
    # The owner's own rights: another's collection is refused, an unknown one not found.
    refused(
        await client.post(
            "/api/v2/webhooks", json={**body, "collection_ids": [theirs]}, headers=owner
        ),
        403,
    )
    unknown = str(uuid4())
    refused(
        await client.post(
            "/api/v2/webhooks", json={**body, "collection_ids": [unknown]}, headers=owner
        ),
        404,
        unknown,
    )
    assert await hooks_of(client, owner) == []
    allowed = await client.post(
        "/api/v2/webhooks", json={**body, "collection_ids": [first]}, headers=narrow
    )
    assert allowed.status_code == 201, allowed.text
    assert allowed.json()["collection_ids"] == [first]
    path = f"/api/v2/webhooks/{allowed.json()['id']}"
    refused(await client.delete(path, headers=reader), 403, "scopes")
    assert (await client.delete(path, headers=narrow)).status_code == 204


async def test_one_webhook_over_the_limit_is_a_409(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    owner = bearer((await sign_in(client, "hook-hoarder"))["access_token"])
    limit = 20  # SEMANTIK_WEBHOOK_MAX_PER_USER's default
    body = {"url": PUBLIC, "events": QUIET}
    for _ in range(limit):
        made = await client.post("/api/v2/webhooks", json=body, headers=owner)
        assert made.status_code == 201, made.text
    refused(await client.post("/api/v2/webhooks", json=body, headers=owner), 409, "20 webhooks")
    hooks = await hooks_of(client, owner)
    assert len(hooks) == limit
    for hook in hooks:
        deleted = await client.delete(f"/api/v2/webhooks/{hook['id']}", headers=owner)
        assert deleted.status_code == 204
