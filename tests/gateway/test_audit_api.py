"""A user's session over the gateway and the real collections service: quotas, one
operation at a time, cancelling, ownership, and the audit log that records it all."""

from __future__ import annotations

from uuid import uuid4

import pytest

from .conftest import Stack

pytestmark = pytest.mark.integration


async def test_quota_conflicts_cancel_and_the_audit_log(stack: Stack) -> None:
    alice = await stack.login("alice")
    bob = await stack.login("bob")
    docs = await stack.create_collection(alice, "docs")
    for name in ("notes", "mail"):
        await stack.create_collection(alice, name)
    over = await stack.client.post("/api/v2/collections", json={"name": "x"}, headers=alice)
    assert over.status_code == 409
    assert "at most 3 collections per user" in over.json()["detail"]

    base = f"/api/v2/collections/{docs['id']}"
    added = await stack.client.post(
        f"{base}/sources", json={"path": str(stack.sources / "a")}, headers=alice
    )
    assert added.status_code == 202
    op_id = added.json()["operation"]["id"]
    second = await stack.client.post(
        f"{base}/sources", json={"path": str(stack.sources / "b")}, headers=alice
    )
    assert (second.status_code, second.json()["operation"]["status"]) == (202, "queued")
    rescan = await stack.client.post(f"{base}/operations/index", headers=alice)
    assert (rescan.status_code, rescan.json()["queue_position"]) == (202, 2)
    reindex = await stack.client.post(f"{base}/operations/reindex", json={}, headers=alice)
    assert reindex.status_code == 409
    for queued in (second.json()["operation"]["id"], rescan.json()["id"]):
        dropped = await stack.client.post(f"/api/v2/operations/{queued}/cancel", headers=alice)
        assert dropped.json()["status"] == "cancelled"

    # Someone else's operation is forbidden, an unknown one not found.
    assert await stack.status("POST", f"/api/v2/operations/{op_id}/cancel", bob) == 403
    assert await stack.status("GET", f"/api/v2/operations/{op_id}", bob) == 403
    assert await stack.status("GET", f"{base}/operations", bob) == 403
    assert await stack.status("POST", f"/api/v2/operations/{uuid4()}/cancel", alice) == 404

    cancelled = await stack.client.post(f"/api/v2/operations/{op_id}/cancel", headers=alice)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["error"] == f"cancelled by {cancelled.json()['requested_by']}"
    again = await stack.client.post(f"/api/v2/operations/{op_id}/cancel", headers=alice)
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    collection = (await stack.client.get(base, headers=alice)).json()
    assert (collection["status"], collection["active_operation_id"]) == ("pending", None)
    outside = await stack.client.post(
        f"{base}/sources", json={"path": str(stack.sources / "nowhere")}, headers=alice
    )
    assert outside.status_code == 400  # refused by ingest's check of the path
    retry = await stack.client.post(f"{base}/operations/index", headers=alice)
    assert (retry.status_code, retry.json()["status"]) == (202, "pending")  # nothing runs

    audit = (await stack.client.get("/api/v2/audit", headers=alice)).json()
    lines = [(e["action"], e["outcome"], e.get("code")) for e in audit["items"]]
    assert lines[:10] == [
        ("operation.start", "accepted", None),
        ("source.add", "rejected", "invalid"),
        ("operation.cancel", "rejected", "conflict"),
        ("operation.cancel", "accepted", None),
        ("operation.cancel", "rejected", "not_found"),
        ("operation.cancel", "accepted", None),
        ("operation.cancel", "accepted", None),
        ("operation.start", "rejected", "conflict"),
        ("operation.start", "accepted", None),
        ("source.add", "accepted", None),
    ]
    rejected = (await stack.client.get("/api/v2/audit?outcome=rejected", headers=alice)).json()
    quota = rejected["items"][-1]
    assert quota["action"] == "collection.create" and quota["code"] == "quota_exceeded"
    assert "at most 3 collections" in quota["message"]
    assert all(e["actor"] == audit["items"][0]["actor"] for e in audit["items"])
    theirs = (await stack.client.get("/api/v2/audit", headers=bob)).json()["items"]
    assert [(e["action"], e["code"], e["target_id"]) for e in theirs] == [
        ("operation.cancel", "forbidden", op_id)  # queries are not audited
    ]
    assert await stack.status("GET", "/api/v2/audit?outcome=maybe", alice) == 422
    assert await stack.status("GET", "/api/v2/audit") == 401

    usage = (await stack.client.get("/api/v2/usage", headers=alice)).json()
    assert (usage["collections"], usage["max_collections"], usage["active_operations"]) == (
        3,
        3,
        1,
    )
