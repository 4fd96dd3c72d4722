"""Sources, operations and search through the gateway, over the real collections service."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from nats.js.api import ConsumerConfig
from semantik_contracts import SearchType
from semantik_contracts.search import EmbedQuery, QueryEmbeddings
from semantik_contracts.subjects import WORK_STREAM, embed_consumer_name, embed_work_subject

from .conftest import Stack

pytestmark = pytest.mark.integration


async def test_adding_a_source_starts_an_operation(stack: Stack) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    base = f"/api/v2/collections/{docs['id']}"
    reply = await stack.client.post(
        f"{base}/sources", json={"path": str(stack.sources / "a")}, headers=alice
    )
    assert reply.status_code == 202
    added = reply.json()
    assert added["source"]["path"] == str((stack.sources / "a").resolve())
    assert added["source"]["kind"] == "directory"
    operation = added["operation"]
    assert operation["type"] == "index" and operation["status"] == "pending"
    assert operation["collection_id"] == docs["id"]

    listed = (await stack.client.get(f"{base}/sources", headers=alice)).json()
    assert [s["id"] for s in listed["items"]] == [added["source"]["id"]]

    busy = await stack.client.post(
        f"{base}/sources", json={"path": str(stack.sources / "b")}, headers=alice
    )
    assert busy.status_code == 202  # the collection is busy: it waits in the queue
    assert (busy.json()["operation"]["status"], busy.json()["operation"]["queue_position"]) == (
        "queued",
        1,
    )
    missing = await stack.client.post(
        f"{base}/sources", json={"path": str(stack.sources / "nowhere")}, headers=alice
    )
    assert missing.status_code == 400 and "does not exist" in missing.json()["detail"]
    empty = await stack.client.post(f"{base}/sources", json={"path": ""}, headers=alice)
    assert empty.status_code == 422


async def test_documents_queues_one_operation_per_path(stack: Stack) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    base = f"/api/v2/collections/{docs['id']}"
    paths = [str(stack.sources / "a"), str(stack.sources / "b"), str(stack.sources / "nowhere")]
    reply = await stack.client.post(f"{base}/documents", json={"paths": paths}, headers=alice)
    assert reply.status_code == 202
    body = reply.json()
    assert [a["source"]["path"] for a in body["added"]] == paths[:2]
    assert [
        (a["operation"]["status"], a["operation"]["queue_position"]) for a in body["added"]
    ] == [
        ("pending", None),
        ("queued", 1),
    ]
    assert [(r["path"], r["status_code"]) for r in body["not_added"]] == [(paths[2], 400)]

    nothing = await stack.client.post(
        f"{base}/documents", json={"paths": [str(stack.sources / "nowhere")]}, headers=alice
    )
    assert nothing.status_code == 400
    assert await stack.status("POST", f"{base}/documents", alice, {"paths": []}) == 422


async def test_operations_list_get_cancel_and_restart(stack: Stack) -> None:
    alice, bob = await stack.login("alice"), await stack.login("bob")
    docs = await stack.create_collection(alice, "docs")
    base = f"/api/v2/collections/{docs['id']}"
    added = await stack.client.post(
        f"{base}/sources", json={"path": str(stack.sources / "a")}, headers=alice
    )
    op_id = added.json()["operation"]["id"]

    in_collection = (await stack.client.get(f"{base}/operations", headers=alice)).json()
    assert [o["id"] for o in in_collection["items"]] == [op_id]
    pending = (await stack.client.get("/api/v2/operations?status=pending", headers=alice)).json()
    assert [o["id"] for o in pending["items"]] == [op_id]
    assert await stack.status("GET", "/api/v2/operations?status=bogus", alice) == 422
    got = await stack.client.get(f"/api/v2/operations/{op_id}", headers=alice)
    assert got.status_code == 200 and got.json()["requested_by"] == docs["owner"]
    assert await stack.status("GET", f"/api/v2/operations/{op_id}", bob) == 403
    assert await stack.status("GET", f"/api/v2/operations/{uuid4()}", alice) == 404
    assert await stack.status("POST", f"/api/v2/operations/{op_id}/cancel", bob) == 403

    busy = await stack.client.post(f"{base}/operations/index", headers=alice)
    assert (busy.status_code, busy.json()["status"]) == (202, "queued")
    queued_id = busy.json()["id"]
    dropped = await stack.client.post(f"/api/v2/operations/{queued_id}/cancel", headers=alice)
    assert (dropped.json()["status"], dropped.json()["started_at"]) == ("cancelled", None)
    twice = await stack.client.post(f"/api/v2/operations/{queued_id}/cancel", headers=alice)
    assert twice.status_code == 409 and "already cancelled" in twice.json()["detail"]
    cancelled = await stack.client.post(f"/api/v2/operations/{op_id}/cancel", headers=alice)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    still = await stack.client.get("/api/v2/operations?status=pending", headers=alice)
    assert still.json()["total"] == 0

    again = await stack.client.post(f"{base}/operations/index", headers=alice)
    assert again.status_code == 202 and again.json()["type"] == "index"
    reindex = await stack.client.post(f"{base}/operations/reindex", json={}, headers=alice)
    assert reindex.status_code == 409 and "first completed index" in reindex.json()["detail"]


async def test_search_resolves_each_collection_for_the_search_service(stack: Stack) -> None:
    alice, bob = await stack.login("alice"), await stack.login("bob")
    docs = await stack.create_collection(alice, "docs")
    notes = await stack.create_collection(alice, "notes")
    body = {
        "query": "what is hybrid search",
        "collection_ids": [docs["id"], notes["id"], docs["id"]],
        "limit": 5,
        "search_type": "dense",
        "filters": {"path_prefix": "/srv"},
    }
    reply = await stack.client.post("/api/v2/search", json=body, headers=alice)
    assert reply.status_code == 200
    assert reply.json()["warnings"] == ["stand-in search"] and reply.json()["results"] == []
    [search] = stack.searches
    assert [t.collection_id for t in search.targets] == [UUID(docs["id"]), UUID(notes["id"])]
    assert {t.generation for t in search.targets} == {docs["active_generation"]}
    assert search.targets[0].model_name == docs["model_name"]
    assert (search.limit, search.search_type) == (5, SearchType.DENSE)
    assert search.filters == {"path_prefix": "/srv"}

    one = await stack.client.post(
        f"/api/v2/collections/{notes['id']}/search", json={"query": "x"}, headers=alice
    )
    assert one.status_code == 200
    assert stack.searches[-1].targets[0].collection_id == UUID(notes["id"])
    assert await stack.status("POST", "/api/v2/search", bob, body) == 403
    unknown = {**body, "collection_ids": [str(uuid4())]}
    assert await stack.status("POST", "/api/v2/search", alice, unknown) == 404
    for bad in ({**body, "query": ""}, {**body, "collection_ids": []}, {**body, "limit": 0}):
        assert await stack.status("POST", "/api/v2/search", alice, bad) == 422


async def test_a_search_carries_its_per_collection_timeout(stack: Stack) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    body = {"query": "what is hybrid search", "collection_ids": [docs["id"]]}
    assert (await stack.client.post("/api/v2/search", json=body, headers=alice)).is_success
    assert stack.searches[-1].timeout_ms == 5000  # SEARCH_COLLECTION_TIMEOUT_MS
    timed = {**body, "timeout_ms": 250}
    assert (await stack.client.post("/api/v2/search", json=timed, headers=alice)).is_success
    assert stack.searches[-1].timeout_ms == 250
    one = f"/api/v2/collections/{docs['id']}/search"
    assert await stack.status("POST", one, alice, {"query": "x", "timeout_ms": 60000}) == 200
    assert stack.searches[-1].timeout_ms == 60000

    for bad, says in ((49, "greater than or equal to 50"), (60001, "less than or equal to 60000")):
        reply = await stack.client.post(
            "/api/v2/search", json={**body, "timeout_ms": bad}, headers=alice
        )
        assert reply.status_code == 422
        [error] = reply.json()["detail"]
        assert error["loc"] == ["body", "timeout_ms"] and says in error["msg"]
    word = await stack.client.post(
        "/api/v2/search", json={**body, "timeout_ms": "soon"}, headers=alice
    )
    assert word.status_code == 422 and word.json()["detail"][0]["loc"] == ["body", "timeout_ms"]
    assert len(stack.searches) == 3  # no refused request reached the search service


async def test_health_and_readiness(stack: Stack) -> None:
    assert (await stack.client.get("/health")).json()["status"] == "ok"
    waiting = await stack.client.get("/health/ready")
    assert waiting.status_code == 503  # no embedder of the default model answers yet
    assert waiting.json()["checks"]["embedder"] == (
        "nothing answers semantik.rpc.embed.all-minilm-l6-v2"
    )

    async def embed(request: EmbedQuery) -> QueryEmbeddings:
        return QueryEmbeddings(model=request.model, dimension=1, vectors=[[1.0]])

    await stack.embedder.serve("semantik.rpc.embed.all-minilm-l6-v2", EmbedQuery, embed, queue="e")
    ready = await stack.client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["checks"].values()) == {"ok"}
    assert set(ready.json()["checks"]) == {
        "nats",
        "collections",
        "vector_store",
        "ingest",
        "search",
        "embedder",
        "event_store",
    }
    # A second model in use (its embedders made its work queue) needs an embedder too.
    await stack.bus.js.add_consumer(
        WORK_STREAM,
        ConsumerConfig(
            durable_name=embed_consumer_name("other-model"),
            filter_subject=embed_work_subject("other-model"),
        ),
    )
    missing = await stack.client.get("/health/ready")
    assert missing.status_code == 503
    assert missing.json()["checks"]["embedder:other-model"] == (
        "nothing answers semantik.rpc.embed.other-model"
    )
    page = await stack.client.get("/")
    assert page.status_code == 200 and "<title>Semantik</title>" in page.text


async def test_lists_page_and_filter(stack: Stack) -> None:
    alice = await stack.login("alice")
    names = ["Engineering docs", "Sales notes", "engineering runbooks"]
    made = [await stack.create_collection(alice, name) for name in names]
    page = (await stack.client.get("/api/v2/collections?limit=2&offset=1", headers=alice)).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [c["name"] for c in page["items"]] == names[1:]
    found = await stack.client.get("/api/v2/collections?name=ENGINEER", headers=alice)
    assert [c["name"] for c in found.json()["items"]] == [names[0], names[2]]
    assert await stack.status("GET", "/api/v2/collections?limit=0", alice) == 422

    added = await stack.client.post(
        f"/api/v2/collections/{made[0]['id']}/sources",
        json={"path": str(stack.sources / "a")},
        headers=alice,
    )
    op_id = added.json()["operation"]["id"]
    indexing = await stack.client.get("/api/v2/operations?type=index", headers=alice)
    assert [o["id"] for o in indexing.json()["items"]] == [op_id]
    reindexing = await stack.client.get("/api/v2/operations?type=reindex", headers=alice)
    assert reindexing.json()["total"] == 0
    both = await stack.client.get("/api/v2/operations?type=index&status=pending", headers=alice)
    assert both.json()["total"] == 1
    assert await stack.status("GET", "/api/v2/operations?type=bogus", alice) == 422
