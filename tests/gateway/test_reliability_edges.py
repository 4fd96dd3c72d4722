"""Issue 11, bad input at the gateway's edge, over real HTTP before the real collections
and ingest services (``served.py``): every refusal is a 4xx with a message and leaves
nothing behind."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest
from nats.js.errors import NotFoundError
from semantik_runtime.bus import Bus

from services.ingest.tests.corpus import zip_bomb

from .edges import (
    OUTSIDE,
    RESOURCE_PARAMS,
    bearer,
    body_for,
    endpoints,
    fill,
    new_collection,
    nothing_added,
    refused,
    resource_routes,
    sign_in,
)
from .served import ServedGateway

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


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
            endpoint.method, url, content=streamed(5), headers=json_headers
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
        if params > {"collection_id"}:  # my collection, an unknown source or document
            unknown_ids = {"source_id": str(uuid4()), "document_id": str(uuid4())}
            inner = fill(template, collection_id=mine, **unknown_ids)
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
