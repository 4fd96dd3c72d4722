"""A search's filter keys through the gateway: the known payload fields, ``path_prefix``
and ``columns.<name>`` reach the search service as asked; any other key is a 422 that
says why, on both search routes, before anything reads a payload with it (a key would
otherwise become the engine's payload path: a wildcard, an index, a nested field)."""

from __future__ import annotations

import pytest

from .conftest import Stack

pytestmark = pytest.mark.integration


async def test_filter_keys_are_checked_on_both_search_routes(stack: Stack) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    one = f"/api/v2/collections/{docs['id']}/search"
    routes = (("/api/v2/search", {"collection_ids": [docs["id"]]}), (one, {}))
    accepted = {
        "source_id": "s1",
        "file_type": ["pdf", "md"],
        "mime": "text/plain",
        "path": "/data/a.md",
        "path_prefix": "/data",
        "document_id": "d1",
        "record_id": "r1",
        "columns.city": "Oslo",
        "columns.open": True,
        "columns.year": 2021,
        "columns.Due date_2-b.x": "soon",
    }
    for url, extra in routes:
        body = {"query": "x", "filters": accepted, **extra}
        assert await stack.status("POST", url, alice, body) == 200
        assert stack.searches[-1].filters == accepted

    refused = {
        "text": "unknown filter 'text'",
        "columns": "unknown filter 'columns'",
        "collection_id": "unknown filter 'collection_id'",
        "*": "unknown filter '*'",
        "file_type[]": "unknown filter",
        "path..": "unknown filter",
        "../path": "unknown filter",
        "FILE_TYPE": "unknown filter",
        "file\u200btype": "unknown filter",  # a zero-width space
        "path_prefix\u2024": "unknown filter",  # a one-dot leader, not a dot
        "columns.": "a column name is 1-64",
        "columns.*": "a column name is 1-64",
        "columns.city[0]": "a column name is 1-64",
        'columns."city"': "a column name is 1-64",
        "columns.city/../x": "a column name is 1-64",
        "columns.city\n": "a column name is 1-64",
        "columns.city\u0000": "must not contain NUL",
        "columns." + "c" * 65: "a column name is 1-64",
        "x" * 10_000: "unknown filter",
    }
    before = len(stack.searches)
    for key, says in refused.items():
        for url, extra in routes:
            body = {"query": "x", "filters": {key: "v"}, **extra}
            reply = await stack.client.post(url, json=body, headers=alice)
            assert reply.status_code == 422, (key[:80], reply.text)
            assert says in reply.text, (key[:80], reply.text)
            assert len(reply.text) < 2000  # an over-long key is not echoed whole
    # No search reached the service with any of them.
    assert len(stack.searches) == before
