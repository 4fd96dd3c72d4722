"""``/api/v2`` over the real bus and the real collections service."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from .conftest import Stack

pytestmark = pytest.mark.integration


async def test_create_list_get_patch_delete(stack: Stack) -> None:
    alice = await stack.login("alice")
    created = await stack.client.post(
        "/api/v2/collections",
        json={"name": "docs", "description": "team docs", "model_dimension": 384},
        headers=alice,
    )
    assert created.status_code == 201
    docs = created.json()
    assert docs["status"] == "pending" and docs["vector_count"] == 0
    assert docs["model_name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert docs["chunk_size"] == 256 and docs["owner"] == (await me(stack, alice))

    await stack.create_collection(alice, "notes")
    page = (await stack.client.get("/api/v2/collections", headers=alice)).json()
    assert [c["name"] for c in page["items"]] == ["docs", "notes"]
    assert page["total"] == 2 and page["limit"] == 50 and page["offset"] == 0
    second = await stack.client.get("/api/v2/collections?limit=1&offset=1", headers=alice)
    assert [c["name"] for c in second.json()["items"]] == ["notes"]
    pending = await stack.client.get("/api/v2/collections?status=ready", headers=alice)
    assert pending.json()["total"] == 0

    url = f"/api/v2/collections/{docs['id']}"
    stack.vector_counts[uuid4()] = 3  # another collection's count is not ours
    stack.vector_counts[UUID(docs["id"])] = 7
    got = (await stack.client.get(url, headers=alice)).json()
    assert got["vector_count"] == 7 and got["description"] == "team docs"

    patched = await stack.client.patch(url, json={"name": "handbook"}, headers=alice)
    assert patched.status_code == 200
    assert patched.json()["name"] == "handbook" and patched.json()["description"] == "team docs"
    taken = await stack.client.patch(url, json={"name": "notes"}, headers=alice)
    assert taken.status_code == 409

    assert (await stack.client.delete(url, headers=alice)).status_code == 204
    assert (await stack.client.get(url, headers=alice)).status_code == 404
    listed = (await stack.client.get("/api/v2/collections", headers=alice)).json()
    assert [c["name"] for c in listed["items"]] == ["notes"]


@pytest.mark.reliability
async def test_unknown_is_404_and_someone_elses_is_403(stack: Stack) -> None:
    alice, bob = await stack.login("alice"), await stack.login("bob")
    docs = await stack.create_collection(alice, "docs")
    url = f"/api/v2/collections/{docs['id']}"
    for method, body in (("GET", None), ("PATCH", {"name": "mine"}), ("DELETE", None)):
        reply = await stack.client.request(method, url, json=body, headers=bob)
        assert reply.status_code == 403, (method, reply.text)
        assert "another user" in reply.json()["detail"]
    missing = await stack.client.get(f"/api/v2/collections/{uuid4()}", headers=alice)
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
    assert (await stack.client.get("/api/v2/collections", headers=bob)).json()["total"] == 0
    sources = await stack.client.post(
        f"{url}/sources", json={"path": str(stack.sources / "a")}, headers=bob
    )
    assert sources.status_code == 403


@pytest.mark.reliability
async def test_bad_input_is_422_never_500(stack: Stack) -> None:
    alice = await stack.login("alice")
    bad_bodies = [
        {"name": ""},
        {"name": " \t "},
        {"name": "x" * 201},
        {"name": "x", "chunk_size": 1},
    ]
    for body in [*bad_bodies, {}, []]:
        reply = await stack.client.post("/api/v2/collections", json=body, headers=alice)
        assert reply.status_code == 422, body
    blank = await stack.client.post("/api/v2/collections", json={"name": "  "}, headers=alice)
    assert "must not be blank" in blank.text
    docs = await stack.create_collection(alice, "docs")
    renamed = await stack.client.patch(
        f"/api/v2/collections/{docs['id']}", json={"name": "   "}, headers=alice
    )
    assert renamed.status_code == 422 and "must not be blank" in renamed.text
    not_json = await stack.client.post(
        "/api/v2/collections",
        content=b"{name",
        headers={**alice, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422
    for url in (
        "/api/v2/collections/not-a-uuid",
        "/api/v2/operations/123",
        "/api/v2/collections?status=nope",
        "/api/v2/collections?limit=0",
    ):
        assert await stack.status("GET", url, alice) == 422, url
    assert await stack.status("GET", "/api/v2/collections") == 401
    overlap = await stack.client.post(
        "/api/v2/collections",
        json={"name": "x", "chunk_size": 64, "chunk_overlap": 64},
        headers=alice,
    )
    assert overlap.status_code == 400 and "chunk_overlap" in overlap.json()["detail"]


async def test_the_quota_is_a_409_with_a_clear_message(stack: Stack) -> None:
    alice = await stack.login("alice")
    for name in ("a", "b", "c"):
        await stack.create_collection(alice, name)
    over = await stack.client.post("/api/v2/collections", json={"name": "d"}, headers=alice)
    assert over.status_code == 409 and "quota" in over.json()["detail"]


async def test_the_vector_count_is_0_when_the_embedder_does_not_answer(stack: Stack) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    await stack.embedder.close()
    reply = await stack.client.get(f"/api/v2/collections/{docs['id']}", headers=alice)
    assert reply.status_code == 200 and reply.json()["vector_count"] == 0


async def me(stack: Stack, headers: dict[str, str]) -> str:
    user_id: str = (await stack.client.get("/api/v1/auth/me", headers=headers)).json()["id"]
    return user_id


@pytest.mark.reliability
async def test_unencodable_text_and_nested_filters_are_422_without_echo(stack: Stack) -> None:
    alice = await stack.login("alice")
    collection = await stack.create_collection(alice, "notes")
    json_headers = {**alice, "Content-Type": "application/json"}
    surrogate_bodies = [
        ("/api/v2/collections", b'{"name": "ok\\ud800"}'),
        ("/api/v2/collections", b'{"name": "\\u0000\\ud800"}'),
        ("/api/v1/auth/register", b'{"username": "eve\\udfff", "password": "a long password"}'),
        (f"/api/v2/collections/{collection['id']}/search", b'{"query": "\\ud800"}'),
    ]
    for url, raw in surrogate_bodies:
        reply = await stack.client.post(url, content=raw, headers=json_headers)
        assert reply.status_code == 422, (url, reply.text)
        assert "valid Unicode" in reply.text
    secret = await stack.client.post(
        "/api/v1/auth/register", json={"username": "eve", "password": "short1"}
    )
    assert secret.status_code == 422
    assert "short1" not in secret.text  # a refused password is not echoed back
    assert secret.json()["detail"][0]["loc"] == ["body", "password"]
    nested = await stack.client.post(
        f"/api/v2/collections/{collection['id']}/search",
        json={"query": "hello", "filters": {"a": {"b": 1}}},
        headers=alice,
    )
    assert nested.status_code == 422


async def test_a_source_is_previewed_without_being_added(stack: Stack) -> None:
    alice, bob = await stack.login("alice"), await stack.login("bob")
    docs = await stack.create_collection(alice, "docs")
    url = f"/api/v2/collections/{docs['id']}/sources"
    seen = await stack.client.post(
        f"{url}/preview", json={"path": str(stack.sources / "a")}, headers=alice
    )
    assert seen.status_code == 200, seen.text
    assert seen.json() == {
        "path": str((stack.sources / "a").resolve()),
        "kind": "directory",
        "columns": [],
    }
    assert (await stack.client.get(url, headers=alice)).json()["items"] == []
    missing = await stack.client.post(
        f"{url}/preview", json={"path": str(stack.sources / "none")}, headers=alice
    )
    assert missing.status_code == 400 and "does not exist" in missing.json()["detail"]
    upload = await stack.client.post(
        f"{url}/preview", json={"path": f"upload://{uuid4()}/x.csv"}, headers=alice
    )
    assert upload.status_code == 400 and "path on the server" in upload.json()["detail"]
    theirs = await stack.client.post(
        f"{url}/preview", json={"path": str(stack.sources / "a")}, headers=bob
    )
    assert theirs.status_code == 403
    assert (
        await stack.client.post(f"{url}/preview", json={"path": ""}, headers=alice)
    ).status_code == 422
