"""``POST .../sources/{source_id}/index`` through the gateway: a re-scan of one source,
queued behind the running operation and never twice; refused for another user, an
unknown source and a malformed id, with a message."""

from __future__ import annotations

import uuid

import pytest

from .conftest import Stack

pytestmark = pytest.mark.integration


async def test_a_rescan_of_one_source_is_queued_once_and_refused_to_others(
    stack: Stack,
) -> None:
    alice = await stack.login("alice")
    bob = await stack.login("bob")
    docs = await stack.create_collection(alice, "docs")
    base = f"/api/v2/collections/{docs['id']}"
    client = stack.client
    ids, operations = [], []
    for name in ("a", "b"):
        added = await client.post(
            f"{base}/sources", json={"path": str(stack.sources / name)}, headers=alice
        )
        assert added.status_code == 202, added.text
        ids.append(added.json()["source"]["id"])
        operations.append(added.json()["operation"]["id"])
    # a's index is still running, b's waits: a re-scan of a queues an index of a alone.
    rescan = await client.post(f"{base}/sources/{ids[0]}/index", headers=alice)
    assert rescan.status_code == 202, rescan.text
    answer = rescan.json()
    assert answer["source"]["id"] == ids[0]
    operation = answer["operation"]
    assert (operation["type"], operation["trigger"], operation["status"]) == (
        "index",
        "user",
        "queued",
    )
    assert operation["queue_position"] == 2 and operation["id"] not in operations
    again = await client.post(f"{base}/sources/{ids[0]}/index", headers=alice)
    assert again.status_code == 202 and again.json()["operation"]["id"] == operation["id"]
    # b's own queued index will see any change: it is the answer, not a second one.
    joined = await client.post(f"{base}/sources/{ids[1]}/index", headers=alice)
    assert joined.status_code == 202 and joined.json()["operation"]["id"] == operations[1]

    theirs = await client.post(f"{base}/sources/{ids[1]}/index", headers=bob)
    assert theirs.status_code in (403, 404) and theirs.json()["detail"], theirs.text
    unknown = uuid.uuid4()
    missing = await client.post(f"{base}/sources/{unknown}/index", headers=alice)
    assert missing.status_code == 404 and str(unknown) in missing.text
    malformed = await client.post(f"{base}/sources/not-an-id/index", headers=alice)
    assert malformed.status_code == 422 and "source_id" in malformed.text
    listed = await client.get(f"{base}/operations", headers=alice)
    assert listed.json()["total"] == 3  # two adds and one re-scan, nothing refused stored
