"""Column sets and the batch re-embed through the gateway: saved, listed, deleted, applied
to several sources (one staged operation, queued); bad input is a 4xx that says why and
changes nothing."""

from __future__ import annotations

import uuid

import pytest

from .conftest import Stack

pytestmark = pytest.mark.integration


async def test_sets_are_saved_listed_applied_and_deleted(stack: Stack) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    base = f"/api/v2/collections/{docs['id']}"
    client = stack.client
    saved = await client.post(
        f"{base}/column-sets",
        json={"name": "wide", "text_columns": ["title", "body"], "context_columns": ["city"]},
        headers=alice,
    )
    assert saved.status_code == 201, saved.text
    assert saved.json()["saved_by"] and saved.json()["text_columns"] == ["title", "body"]
    listed = await client.get(f"{base}/column-sets", headers=alice)
    assert [s["name"] for s in listed.json()["items"]] == ["wide"]

    sources = []
    for name in ("one.csv", "two.csv"):
        (stack.sources / name).write_text("title,body,city\nt,b,c\n")
        added = await client.post(
            f"{base}/sources",
            json={"path": str(stack.sources / name), "text_columns": ["title"]},
            headers=alice,
        )
        assert added.status_code == 202, added.text
        sources.append(added.json()["source"]["id"])
    started = await client.post(
        f"{base}/sources/reembed", json={"source_ids": sources, "column_set": "wide"}, headers=alice
    )
    assert started.status_code == 202, started.text
    answer = started.json()
    assert [s["id"] for s in answer["sources"]] == sources
    assert all(s["text_columns"] == ["title", "body"] for s in answer["sources"])
    assert all(s["context_columns"] == ["city"] for s in answer["sources"])
    operation = answer["operation"]  # behind the two sources' first indexes
    assert (operation["type"], operation["status"], operation["queue_position"]) == (
        "index",
        "queued",
        2,
    )

    upload = f"{base}/sources/upload"
    uploaded = await client.post(
        upload,
        files={"file": ("three.csv", b"title,body,city\nt,b,c\n", "text/csv")},
        data={"column_set": "wide"},
        headers=alice,
    )
    assert uploaded.status_code == 202, uploaded.text
    taken = uploaded.json()["source"]
    assert (taken["text_columns"], taken["context_columns"]) == (["title", "body"], ["city"])
    refused_forms = [
        ({"column_set": "nope"}, 404, "column set 'nope'"),
        ({"column_set": "wide", "text_columns": "title"}, 422, "column_set"),
        ({"column_set": "a/b"}, 422, "column_set"),
    ]
    for data, code, said in refused_forms:
        reply = await client.post(
            upload,
            files={"file": ("four.csv", b"title\nt\n", "text/csv")},
            data=data,
            headers=alice,
        )
        assert reply.status_code == code and said in reply.text, (data, reply.text)

    gone = await client.delete(f"{base}/column-sets/wide", headers=alice)
    assert gone.status_code == 204, gone.text
    assert (await client.get(f"{base}/column-sets", headers=alice)).json()["items"] == []


async def test_bad_column_set_and_reembed_input_is_refused_with_a_reason(stack: Stack) -> None:
    alice = await stack.login("alice")
    bob = await stack.login("bob")
    docs = await stack.create_collection(alice, "docs")
    base = f"/api/v2/collections/{docs['id']}"
    client = stack.client
    bad_sets = [
        {"name": "", "text_columns": ["a"]},
        {"name": "a/b", "text_columns": ["a"]},
        {"name": "x", "text_columns": []},
        {"name": "x" * 101, "text_columns": ["a"]},
    ]
    for body in bad_sets:
        reply = await client.post(f"{base}/column-sets", json=body, headers=alice)
        assert reply.status_code == 422, body
        assert reply.json()["detail"], body
    missing = await client.delete(f"{base}/column-sets/nope", headers=alice)
    assert missing.status_code == 404 and "nope" in missing.text
    # A name no set can have is a 422 naming why, never a 500 (the fuzzer found these).
    for name, why in (("%20%20", "blank"), ("a%01b", "printable"), ("x" * 101, "100")):
        reply = await client.delete(f"{base}/column-sets/{name}", headers=alice)
        assert reply.status_code == 422 and why in reply.text, (name, reply.text[:200])
    slashed = await client.delete(f"{base}/column-sets/a%2Fb", headers=alice)
    assert slashed.status_code in (404, 422), slashed.text
    other = await client.get(f"{base}/column-sets", headers=bob)
    assert other.status_code in (403, 404), other.text
    unknown = await client.get(f"/api/v2/collections/{uuid.uuid4()}/column-sets", headers=alice)
    assert unknown.status_code == 404

    some = str(uuid.uuid4())
    bad_batches = [
        {"source_ids": []},
        {"source_ids": [some]},  # neither column_set nor text_columns
        {"source_ids": [some], "column_set": "x", "text_columns": ["a"]},
        {"source_ids": ["not-a-uuid"], "text_columns": ["a"]},
        {"source_ids": [some] * 51, "text_columns": ["a"]},
        {"source_ids": [some], "column_set": "x", "id_column": "id"},
    ]
    for body in bad_batches:
        reply = await client.post(f"{base}/sources/reembed", json=body, headers=alice)
        assert reply.status_code == 422, body
    no_set = await client.post(
        f"{base}/sources/reembed", json={"source_ids": [some], "column_set": "x"}, headers=alice
    )
    assert no_set.status_code == 404 and "column set 'x'" in no_set.text
    no_source = await client.post(
        f"{base}/sources/reembed", json={"source_ids": [some], "text_columns": ["a"]}, headers=alice
    )
    assert no_source.status_code == 404 and some in no_source.text
    twice = await client.post(
        f"{base}/sources/reembed",
        json={"source_ids": [some, some], "text_columns": ["a"]},
        headers=alice,
    )
    assert twice.status_code in (400, 422) and "twice" in twice.text
    folder = await client.post(
        f"{base}/sources", json={"path": str(stack.sources / "a")}, headers=alice
    )
    directory = folder.json()["source"]["id"]
    refused = await client.post(
        f"{base}/sources/reembed",
        json={"source_ids": [directory], "text_columns": ["a"]},
        headers=alice,
    )
    assert refused.status_code == 400 and "directory" in refused.text
