"""A search's facets through the gateway: passed on to the search service as asked,
and a key that is no facet refused with a 422 that says why (the key is checked before
anything reads a payload with it)."""

from __future__ import annotations

import pytest

from .conftest import Stack

pytestmark = pytest.mark.integration


async def test_facets_reach_the_search_service_and_bad_keys_are_refused(stack: Stack) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    keys = ["file_type", "source_id", "mime", "columns.city", "columns.Due date_2-b.x"]
    body = {"query": "x", "collection_ids": [docs["id"]], "facets": keys, "facet_depth": 50}
    assert await stack.status("POST", "/api/v2/search", alice, body) == 200
    assert (stack.searches[-1].facets, stack.searches[-1].facet_depth) == (keys, 50)
    one = f"/api/v2/collections/{docs['id']}/search"
    assert await stack.status("POST", one, alice, {"query": "x", "facets": ["mime"]}) == 200
    assert (stack.searches[-1].facets, stack.searches[-1].facet_depth) == (["mime"], 200)
    assert await stack.status("POST", one, alice, {"query": "x"}) == 200
    assert stack.searches[-1].facets == []

    refused = {
        "path": "unknown facet 'path'",
        "columns": "unknown facet 'columns'",
        "columns.": "a column name is 1-64",
        "columns.*": "a column name is 1-64",
        "columns.city[]": "a column name is 1-64",
        'columns."city"': "a column name is 1-64",
        "columns.city\u0000": "must not contain NUL",
        "columns.city\n": "a column name is 1-64",
        "columns.city/../x": "a column name is 1-64",
        "columns." + "c" * 65: "a column name is 1-64",
        "text": "unknown facet 'text'",
        "document_id": "unknown facet 'document_id'",
    }
    for key, says in refused.items():
        for url, extra in (("/api/v2/search", {"collection_ids": [docs["id"]]}), (one, {})):
            reply = await stack.client.post(
                url, json={"query": "x", "facets": [key], **extra}, headers=alice
            )
            assert reply.status_code == 422, (key, reply.text)
            assert says in reply.text, (key, reply.text)
    for bad, says in (
        ({"facets": ["mime", "mime"]}, "more than once"),
        ({"facets": ["mime"] * 9}, "at most 8"),
        ({"facets": "mime"}, "valid list"),
        ({"facets": [7]}, "valid string"),
        ({"facet_depth": 9}, "greater than or equal to 10"),
        ({"facet_depth": 1001}, "less than or equal to 1000"),
    ):
        reply = await stack.client.post(one, json={"query": "x", **bad}, headers=alice)
        assert reply.status_code == 422 and says in reply.text, (bad, reply.text)
    # No search reached the service with any of them.
    assert stack.searches[-1].facets == []
