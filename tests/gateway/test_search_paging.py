"""A search's offset and explain through the gateway: passed on to the search service
on both routes, and an offset out of 0..1000 refused with a 422 that says why."""

from __future__ import annotations

import pytest

from .conftest import Stack

pytestmark = pytest.mark.integration


async def test_offset_and_explain_reach_the_search_service_and_bad_offsets_are_refused(
    stack: Stack,
) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    one = f"/api/v2/collections/{docs['id']}/search"
    body = {"query": "x", "collection_ids": [docs["id"]], "offset": 20, "explain": True}
    reply = await stack.client.post("/api/v2/search", json=body, headers=alice)
    assert reply.status_code == 200
    assert (reply.json()["offset"], reply.json()["has_more"]) == (0, False)  # the stand-in's
    assert (stack.searches[-1].offset, stack.searches[-1].explain) == (20, True)
    assert await stack.status("POST", one, alice, {"query": "x", "offset": 1000}) == 200
    assert (stack.searches[-1].offset, stack.searches[-1].explain) == (1000, False)
    assert await stack.status("POST", one, alice, {"query": "x"}) == 200
    assert stack.searches[-1].offset == 0

    searched = len(stack.searches)
    for bad, says in (
        (-1, "greater than or equal to 0"),
        (1001, "less than or equal to 1000"),
        ("ten", "valid integer"),
        (2.5, "valid integer"),
        (None, "valid integer"),
    ):
        for url, extra in (("/api/v2/search", {"collection_ids": [docs["id"]]}), (one, {})):
            reply = await stack.client.post(
                url, json={"query": "x", "offset": bad, **extra}, headers=alice
            )
            assert reply.status_code == 422, (bad, reply.text)
            [error] = reply.json()["detail"]
            assert error["loc"] == ["body", "offset"] and says in error["msg"], (bad, error)
    explain = await stack.client.post(one, json={"query": "x", "explain": "maybe"}, headers=alice)
    assert explain.status_code == 422 and explain.json()["detail"][0]["loc"] == ["body", "explain"]
    assert len(stack.searches) == searched  # none of them reached the service
