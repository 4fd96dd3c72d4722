"""Issue 11, bad input and attacks at the gateway's edge, over real HTTP and WebSocket
before the real collections and ingest services (``served.py``): every refusal is a
4xx with a message and leaves nothing behind; one user reaches nothing of another's on
any route the app has, or will have."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from gateway_service.subscriptions import ClientMessage
from nats.js.errors import NotFoundError
from semantik_runtime.bus import Bus
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from services.ingest.tests.corpus import zip_bomb

from .conftest import read_until
from .served import ServedGateway, served_gateway

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

PASSWORD = "correct horse"
#: Path parameters that name one user's resource.
RESOURCE_PARAMS = {"collection_id", "operation_id", "source_id"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    with served_gateway(tmp_path_factory.mktemp("edges")) as gateway:
        yield gateway


@pytest.fixture
async def client(served: ServedGateway) -> Any:
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        http.headers["X-Test-Roots"] = str(served.roots)  # read by sign_in, not the server
        http.headers["X-Test-Secrets"] = str(served.gateway_data / "secrets")
        yield http


async def sign_in(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    """Register ``username`` (or sign in again) with the source root granted to them by
    the operator account, as an admin would (SPEC §11: paths are a grant)."""
    account = {"username": username, "password": PASSWORD}
    registered = await client.post("/api/v1/auth/register", json=account)
    reply = await client.post("/api/v1/auth/login", json=account)
    assert reply.status_code == 200, reply.text
    pair: dict[str, str] = reply.json()
    if registered.status_code == 201:
        secrets = Path(client.headers["X-Test-Secrets"])
        operator = json.loads((secrets / "cli_credentials.json").read_text())
        admin = (await client.post("/api/v1/auth/login", json=operator)).json()
        me = (await client.get("/api/v1/auth/me", headers=bearer(pair["access_token"]))).json()
        grant = {"path": client.headers["X-Test-Roots"], "user_id": me["id"]}
        granted = await client.post(
            "/api/v1/source-roots", json=grant, headers=bearer(admin["access_token"])
        )
        assert granted.status_code == 201, granted.text
    return pair


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


async def new_collection(client: httpx.AsyncClient, headers: dict[str, str], name: str) -> str:
    reply = await client.post("/api/v2/collections", json={"name": name}, headers=headers)
    assert reply.status_code == 201, reply.text
    collection_id: str = reply.json()["id"]
    return collection_id


def refused(reply: httpx.Response, status: int, *words: str) -> None:
    """A 4xx of ``status`` whose message names each of ``words``."""
    assert reply.status_code == status, (reply.status_code, reply.text[:300])
    detail = json.dumps(reply.json()["detail"])
    for word in words:
        assert word in detail, (word, detail[:300])


async def nothing_added(client: httpx.AsyncClient, headers: dict[str, str], base: str) -> None:
    """No source and no operation in the collection: nothing was stored half-way."""
    assert (await client.get(f"{base}/sources", headers=headers)).json()["items"] == []
    assert (await client.get(f"{base}/operations", headers=headers)).json()["total"] == 0
    collection = (await client.get(base, headers=headers)).json()
    assert collection["status"] == "pending" and collection["document_count"] == 0


# -- bad input -----------------------------------------------------------------------------


async def test_malformed_wrong_typed_and_huge_bodies_are_4xx_on_every_json_route(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    pair = await sign_in(client, "mallory")
    headers = bearer(pair["access_token"])
    base = f"/api/v2/collections/{await new_collection(client, headers, 'target')}"
    json_routes = [(e.method, e.path) for e in endpoints(served) if e.takes_body]
    assert len(json_routes) >= 12  # auth, collections, sources, documents, search...
    huge = json.dumps({"name": "x" * (8 << 20), "query": "x" * (8 << 20)}).encode()
    bodies = [b"{name", b'{"a": 1,}', b"[1, 2", b"\xff\xfe not utf-8", b"[]", b"42", b'"a"', huge]
    for method, template in json_routes:
        url = template.replace("/api/v2/collections/{collection_id}", base)
        url = url.replace("{operation_id}", str(uuid4())).replace("{source_id}", str(uuid4()))
        for body in bodies:
            reply = await client.request(
                method, url, content=body, headers={**headers, "Content-Type": "application/json"}
            )
            assert 400 <= reply.status_code < 500, (method, url, body[:20], reply.text[:200])
            assert reply.text.startswith("{"), (method, url, reply.status_code, reply.text[:100])
            assert reply.json()["detail"], (method, url)
    wrong_types = [
        ("/api/v2/collections", {"name": 5}, "name"),
        ("/api/v2/collections", {"name": ["a"]}, "name"),
        ("/api/v2/collections", {"name": "ok", "chunk_size": "big"}, "chunk_size"),
        (f"{base}/search", {"query": {"$ne": ""}}, "query"),
        (f"{base}/search", {"query": "q", "limit": 10**12}, "limit"),
        (f"{base}/search", {"query": "x" * 4001}, "query"),
        (f"{base}/search", {"query": "q", "search_type": "everything"}, "search_type"),
        (f"{base}/sources", {"path": None}, "path"),
        (f"{base}/documents", {"paths": "/not/a/list"}, "paths"),
        ("/api/v2/search", {"query": "q", "collection_ids": ["not-a-uuid"]}, "collection_ids"),
    ]
    for url, body, field in wrong_types:
        refused(await client.post(url, json=body, headers=headers), 422, field)
    await nothing_added(client, headers, base)
    listed = (await client.get("/api/v2/collections", headers=headers)).json()
    assert [c["name"] for c in listed["items"]] == ["target"]


async def streamed(megabytes: int) -> AsyncIterator[bytes]:
    """A JSON body of ``megabytes`` MiB, sent as it is made (never whole in memory)."""
    yield b'{"name": "'
    for _ in range(megabytes):
        yield b"x" * (1 << 20)
    yield b'"}'


async def test_a_body_over_the_limit_is_413_before_it_is_read(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    headers = bearer((await sign_in(client, "flooder"))["access_token"])
    base = f"/api/v2/collections/{await new_collection(client, headers, 'flooded')}"
    json_headers = {**headers, "Content-Type": "application/json"}
    for endpoint in endpoints(served):
        if not endpoint.takes_body:
            continue
        url = endpoint.path.replace("/api/v2/collections/{collection_id}", base)
        url = fill(url, operation_id=str(uuid4()), source_id=str(uuid4()))
        reply = await client.request(
            endpoint.method, url, content=streamed(64), headers=json_headers
        )
        refused(reply, 413, "larger than 4194304 bytes")
    # The largest body a client has reason to send is taken: 100 paths of 4,096 characters.
    deep = "/".join(["😀" * 60] * 66)  # 4,026 characters, over 16 KB: longer than PATH_MAX
    paths = [f"{served.roots}/{deep}/{n}"[:4096] for n in range(100)]
    many = await client.post(f"{base}/documents", json={"paths": paths}, headers=headers)
    refused(many, 400, "cannot be read: File name too long")
    await nothing_added(client, headers, base)


async def test_unicode_edge_cases_are_kept_exactly_or_refused_with_a_reason(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    headers = bearer((await sign_in(client, "unicode"))["access_token"])
    odd_but_valid = [
        "عربي RTL \u202eevil\u202c",  # right-to-left text and an override
        "e\u0301\u0301\u0301 combining",
        "emoji 😀🚀👩‍👩‍👧 names",  # 4-byte and joined sequences
        "\u200b\ufeff invisible",
    ]
    for name in odd_but_valid:
        created = await client.post("/api/v2/collections", json={"name": name}, headers=headers)
        assert created.status_code == 201, (name, created.text)
        got = await client.get(f"/api/v2/collections/{created.json()['id']}", headers=headers)
        assert got.json()["name"] == name  # stored and answered exactly
        search = await client.post(
            f"/api/v2/collections/{created.json()['id']}/search",
            json={"query": name},
            headers=headers,
        )
        assert search.status_code == 200, search.text
    assert [s.query for s in served.searches[-len(odd_but_valid) :]] == odd_but_valid
    base = f"/api/v2/collections/{await new_collection(client, headers, 'plain')}"
    json_headers = {**headers, "Content-Type": "application/json"}
    invalid = [
        ("/api/v2/collections", b'{"name": "nul\\u0000byte"}', "NUL"),
        ("/api/v2/collections", b'{"name": "lone \\ud800"}', "valid Unicode"),
        ("/api/v2/collections", b'{"name": "lone \\udc00 low"}', "valid Unicode"),
        (f"{base}/search", b'{"query": "nul\\u0000"}', "NUL"),
        (f"{base}/search", b'{"query": "\\ud83d"}', "valid Unicode"),  # half an emoji
        (f"{base}/sources", b'{"path": "/x/\\ud800"}', "valid Unicode"),
        (f"{base}/sources", b'{"path": "/x/a\\u0000b"}', "NUL"),
        ("/api/v1/auth/register", b'{"username": "nul\\u0000", "password": "long enough"}', "NUL"),
    ]
    searched = len(served.searches)
    for url, raw, reason in invalid:
        refused(await client.post(url, content=raw, headers=json_headers), 422, reason)
    assert len(served.searches) == searched  # none reached the search service
    await nothing_added(client, headers, base)
    names = {
        c["name"]
        for c in (await client.get("/api/v2/collections", headers=headers)).json()["items"]
    }
    assert names == {*odd_but_valid, "plain"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    params: frozenset[str]
    takes_body: bool


def endpoints(served: ServedGateway) -> list[Endpoint]:
    """Every HTTP route the app has (an included router's with its prefix), per method."""
    assert served.app is not None
    found = []
    for context in iter_route_contexts(served.app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path and context.methods:
            params = frozenset(re.findall(r"{(\w+)}", context.path))
            body = bool(route.dependant.body_params)
            found += [Endpoint(m, context.path, params, body) for m in context.methods - {"HEAD"}]
    return found


def resource_routes(served: ServedGateway) -> list[Endpoint]:
    """The routes about one user's resource: a collection, operation or source id."""
    return [e for e in endpoints(served) if e.params & RESOURCE_PARAMS]


def body_for(template: str, folder: Path) -> Any:
    body = BODIES.get(template)
    if body is None:
        return None
    return json.loads(json.dumps(body).replace("{dir}", str(folder)))


OUTSIDE = "outside the source roots granted to you"
#: Path parameters that name no resource of a user: filled the same in every test.
PRINCIPAL = {"principal_type": "user", "principal_id": "0f4b5f58-4f7a-4f8e-9a52-3d1c2b0a9e77"}


def fill(template: str, **ids: str) -> str:
    for name, value in {**PRINCIPAL, **ids}.items():
        template = template.replace(f"{{{name}}}", value)
    return template


async def test_invalid_and_unknown_ids_on_every_route_are_422_and_404(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    headers = bearer((await sign_in(client, "idprober"))["access_token"])
    mine = await new_collection(client, headers, "mine")
    routes = resource_routes(served)
    assert len(routes) >= 15
    for route in routes:
        method, template, params = route.method, route.path, route.params
        body = body_for(template, served.roots)
        for bad in ("not-a-uuid", "1 OR 1=1", "😀", "%2e%2e", "0" * 33):
            url = fill(template, **dict.fromkeys(params - {"principal_type"}, bad))
            reply = await client.request(method, url, json=body, headers=headers)
            refused(reply, 422, "UUID")
        unknown = fill(template, **{p: str(uuid4()) for p in params & RESOURCE_PARAMS})
        refused(await client.request(method, unknown, json=body, headers=headers), 404, "not found")
        if params > {"collection_id"}:  # my collection, someone's unknown source
            inner = fill(template, collection_id=mine, source_id=str(uuid4()))
            reply = await client.request(method, inner, json=body, headers=headers)
            refused(reply, 404, "not found")


async def test_paths_out_of_the_roots_by_dots_links_or_encoding_are_refused(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    headers = bearer((await sign_in(client, "traveller"))["access_token"])
    base = f"/api/v2/collections/{await new_collection(client, headers, 'walls')}"
    root, outside = served.roots, served.data / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text("the neighbour's secret\n")
    (root / "inside").mkdir(exist_ok=True)
    (root / "inside" / "note.txt").write_text("a note\n")
    link = root / "escape"
    if not link.exists():
        link.symlink_to(outside)
    attempts = {
        f"{root}/../outside": OUTSIDE,
        f"{root}/inside/../../outside/secret.txt": OUTSIDE,
        "/etc/passwd": OUTSIDE,
        "/": OUTSIDE,
        str(link): OUTSIDE,
        f"{link}/secret.txt": OUTSIDE,
        f"{root}/%2e%2e/outside": "does not exist",  # not decoded: a name like any other
        "inside/note.txt": "not an absolute path",
        "../outside": "not an absolute path",
        "~root/.ssh": OUTSIDE,
        f"{root}/😀/👩‍👩‍👧.txt": "does not exist",
    }
    for path, reason in attempts.items():
        # A user holds the roots an admin granted them: outside those, 403.
        code = 403 if reason == OUTSIDE else 400
        for url, body in (
            (f"{base}/sources", {"path": path}),
            (f"{base}/sources/preview", {"path": path}),
        ):
            refused(await client.post(url, json=body, headers=headers), code, reason)
        documents = await client.post(f"{base}/documents", json={"paths": [path]}, headers=headers)
        refused(documents, code, reason)
    # Not decoded either, but a name starting with "." is hidden: never a source (403).
    hidden = {"path": f"{root}/..%2foutside"}
    refused(await client.post(f"{base}/sources", json=hidden, headers=headers), 403, "hidden")
    await nothing_added(client, headers, base)


async def test_zip_bombs_and_oversized_uploads_leave_nothing_stored(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    headers = bearer((await sign_in(client, "bomber"))["access_token"])
    collection = await new_collection(client, headers, "bombs")
    base = f"/api/v2/collections/{collection}"
    (served.roots / "bomb.xlsx").write_bytes(zip_bomb())
    refused(
        await client.post(
            f"{base}/sources", json={"path": str(served.roots / "bomb.xlsx")}, headers=headers
        ),
        400,
        "zip bomb",
    )
    uploads = [
        ("bomb.xlsx", zip_bomb(), {"text_columns": "a"}, 400, "zip bomb"),
        ("bomb.xlsx", zip_bomb(), {}, 400, "zip bomb"),
        ("archive.zip", zip_bomb(), {}, 400, "unsupported file type .zip"),
        ("../../bomb.xlsx", zip_bomb(), {}, 400, "zip bomb"),
        ("big.txt", b"x" * ((1 << 20) + 1), {}, 413, "larger than"),
        ("😀.csv", b"a,b\n1,2\n", {"text_columns": "missing"}, 400, "'missing' not found"),
        ("f.csv", b"a\n1\n", {"id_column": "x" * 201}, 422, "id_column"),
        (
            "f.csv",
            b"a\n1\n",
            {"text_columns": ",".join(f"c{n}" for n in range(201))},
            422,
            "text_columns",
        ),
    ]
    assert served.app is not None
    served.app.state.context.settings.upload_max_bytes = 1 << 20
    for name, data, fields, status, reason in uploads:
        reply = await client.post(
            f"{base}/sources/upload", files={"file": (name, data)}, data=fields, headers=headers
        )
        refused(reply, status, reason)
    await nothing_added(client, headers, base)
    spool = served.data / "gateway" / "spool"
    assert not any(spool.iterdir())  # the gateway's received files
    assert not (served.data / "uploads" / collection).exists() or not any(
        (served.data / "uploads" / collection).iterdir()
    )  # ingest's copies
    bus = await Bus.connect(served.nats_url, "inspector")
    try:
        try:
            stored = [o.name for o in await (await bus.upload_store()).list(ignore_deletes=True)]
        except NotFoundError:  # the store has no object at all
            stored = []
        assert not [name for name in stored if name.startswith(collection)], stored
    finally:
        await bus.close()
    # A refused name is free again: the next good upload of it is not a "_v2".
    again = await client.post(
        f"{base}/sources/upload", files={"file": ("😀.csv", b"a,b\n1,2\n")}, headers=headers
    )
    assert again.status_code == 202, again.text
    assert again.json()["source"]["path"].endswith(f"{collection}/_.csv")


# -- security ------------------------------------------------------------------------------

#: A valid body for each route that takes one, so that only ownership can refuse it.
BODIES: dict[str, Any] = {
    "/api/v2/collections/{collection_id}": {"name": "taken"},
    "/api/v2/collections/{collection_id}/sources": {"path": "{dir}"},
    "/api/v2/collections/{collection_id}/sources/preview": {"path": "{dir}"},
    "/api/v2/collections/{collection_id}/sources/{source_id}": {"text_columns": ["text"]},
    "/api/v2/collections/{collection_id}/documents": {"paths": ["{dir}"]},
    "/api/v2/collections/{collection_id}/operations/reindex": {},
    "/api/v2/collections/{collection_id}/search": {"query": "anything"},
    "/api/v2/collections/{collection_id}/access/{principal_type}/{principal_id}": {
        "role": "viewer"
    },
}
#: Subscriptions a WebSocket client can ask for, from the protocol's own schema.
SUBSCRIPTIONS = [
    kind.removeprefix("subscribe_")
    for kind in ClientMessage.json_schema()["discriminator"]["mapping"]
    if kind.startswith("subscribe_")
]


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
        if template.endswith("/sources/upload"):
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


async def nothing_of(
    client: httpx.AsyncClient, routes: list[Endpoint], headers: dict[str, str], secrets: list[str]
) -> None:
    for endpoint in routes:
        if endpoint.method == "GET" and not endpoint.params:
            reply = await client.get(endpoint.path, headers=headers)
            leaked = [s for s in secrets if s in reply.text]
            assert not leaked, (endpoint.path, leaked)


def forged_tokens(
    served: ServedGateway, access: str, refresh: str, other_user: str
) -> dict[str, str]:
    """Tokens that must all be refused, made from a real one of a signed-in user."""
    secret = (served.data / "gateway" / "secrets" / "jwt_secret").read_text()
    claims = jwt.decode(access, options={"verify_signature": False})
    now = int(time.time())
    header, payload, signature = access.split(".")
    theirs = {**claims, "sub": other_user}
    swapped = base64.urlsafe_b64encode(json.dumps(theirs).encode()).rstrip(b"=").decode()
    return {
        "expired": jwt.encode({**claims, "iat": now - 120, "exp": now - 60}, secret, "HS256"),
        "alg none": jwt.encode({**claims}, None, algorithm="none"),
        "alg none, no dot": ".".join(jwt.encode(claims, None, algorithm="none").split(".")[:2]),
        "signed elsewhere": jwt.encode(claims, "k" * 64, "HS256"),
        "payload swapped": f"{header}.{swapped}.{signature}",
        "signature cut": f"{header}.{payload}.",
        "signature of another": f"{header}.{payload}.{refresh.split('.')[2]}",
        "refresh as access": refresh,
        "HS512 with the secret": jwt.encode(claims, secret, "HS512"),
        "garbage": "a.b.c",
    }


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
