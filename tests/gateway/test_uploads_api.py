"""Uploads through the gateway: streamed, size-limited, versioned in the object store."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
from gateway_service.upload_versions import name_locked
from gateway_service.uploads import ReceivedUpload, name_key, store_upload
from semantik_contracts import ErrorCode, RpcFailure
from semantik_contracts.subjects import UPLOAD_SCHEME
from semantik_runtime.bus import Bus

from .conftest import Stack

pytestmark = pytest.mark.integration


async def test_an_upload_of_a_name_again_is_the_next_version_of_its_source(stack: Stack) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    url = f"/api/v2/collections/{docs['id']}/sources/upload"
    reply = await stack.client.post(
        url,
        files={"file": ("../../etc/notes.md", b"# Notes\n\nFirst version.\n", "text/markdown")},
        data={"text_columns": "a, b", "context_columns": ["c", "d"], "id_column": "id"},
        headers=alice,
    )
    assert reply.status_code == 202, reply.text
    source = reply.json()["source"]
    assert source["path"] == f"{UPLOAD_SCHEME}{docs['id']}/notes.md"  # no path parts kept
    assert (source["kind"], source["text_columns"], source["context_columns"]) == (
        "upload",
        ["a", "b"],
        ["c", "d"],
    )
    assert source["id_column"] == "id"
    assert [(v["version"], v["size"]) for v in source["versions"]] == [(1, 24)]
    store = await stack.bus.upload_store()
    stored = await store.get(f"{docs['id']}/notes.md")
    assert stored.data == b"# Notes\n\nFirst version.\n"

    # Uploaded again: the same source, a second version, its own (queued) operation.
    again = await stack.client.post(
        url, files={"file": ("notes.md", b"Second.", "text/markdown")}, headers=alice
    )
    assert again.status_code == 202, again.text
    second = again.json()
    assert second["source"]["id"] == source["id"] and second["source"]["path"] == source["path"]
    assert [(v["version"], v["size"]) for v in second["source"]["versions"]] == [(1, 24), (2, 7)]
    assert second["operation"]["id"] != reply.json()["operation"]["id"]
    assert second["operation"]["type"] == "index"
    assert (await store.get(f"{docs['id']}/notes.md")).data == b"Second."

    # keep_versions: a source of its own, under a name not used yet.
    kept = await stack.client.post(
        url,
        files={"file": ("notes.md", b"Third.", "text/markdown")},
        data={"keep_versions": "true"},
        headers=alice,
    )
    assert kept.status_code == 202, kept.text
    assert kept.json()["source"]["id"] != source["id"]
    assert kept.json()["source"]["path"].endswith("/notes_v2.md")
    assert (await store.get(f"{docs['id']}/notes_v2.md")).data == b"Third."
    assert (await store.get(f"{docs['id']}/notes.md")).data == b"Second."
    not_a_bool = await stack.client.post(
        url,
        files={"file": ("notes.md", b"Fourth.", "text/markdown")},
        data={"keep_versions": "perhaps"},
        headers=alice,
    )
    assert not_a_bool.status_code == 422
    assert not_a_bool.json()["detail"][0]["loc"] == ["body", "keep_versions"]
    listed = await stack.client.get(f"/api/v2/collections/{docs['id']}/sources", headers=alice)
    assert len(listed.json()["items"]) == 2


async def test_versions_of_one_name_uploaded_at_once_are_all_kept_in_order(stack: Stack) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "race")
    url = f"/api/v2/collections/{docs['id']}/sources/upload"

    async def upload(n: int) -> dict[str, object]:
        body = b"v" * (n + 1)  # each writer's file its own size
        files = {"file": ("prices.csv", body, "text/csv")}
        reply = await stack.client.post(url, files=files, headers=alice)
        assert reply.status_code == 202, reply.text
        added: dict[str, object] = reply.json()
        return added

    answers = await asyncio.gather(*(upload(n) for n in range(5)))
    sources = {a["source"]["id"] for a in answers}  # type: ignore[index]
    assert len(sources) == 1  # never two sources
    listed = await stack.client.get(f"/api/v2/collections/{docs['id']}/sources", headers=alice)
    (source,) = listed.json()["items"]
    assert [v["version"] for v in source["versions"]] == [1, 2, 3, 4, 5]  # none lost
    # Each answer names the version it added; the newest file is the last version's.
    sizes = sorted(len(a["source"]["versions"]) for a in answers)  # type: ignore[index]
    assert sizes == [1, 2, 3, 4, 5]
    last = next(a for a in answers if len(a["source"]["versions"]) == 5)  # type: ignore[index]
    store = await stack.bus.upload_store()
    newest = (await store.get(f"{docs['id']}/prices.csv")).data
    operations = {a["operation"]["id"] for a in answers}  # type: ignore[index]
    assert len(operations) == 5
    assert newest is not None and len(newest) == last["source"]["versions"][-1]["size"]  # type: ignore[index]


@pytest.mark.reliability
async def test_bad_uploads_are_refused_with_a_reason(stack: Stack) -> None:
    alice = await stack.login("alice")
    docs = await stack.create_collection(alice, "docs")
    url = f"/api/v2/collections/{docs['id']}/sources/upload"
    stack.app.state.context.settings.upload_max_bytes = 1000
    big = await stack.client.post(
        url, files={"file": ("big.txt", b"x" * 1001, "text/plain")}, headers=alice
    )
    assert big.status_code == 413 and "larger than 1000 bytes" in big.json()["detail"]
    huge = await stack.client.post(
        url, files={"file": ("huge.txt", b"x" * (2 << 20), "text/plain")}, headers=alice
    )
    assert huge.status_code == 413
    none = await stack.client.post(url, files={"text_columns": (None, "a")}, headers=alice)
    assert none.status_code == 400 and "exactly one file" in none.json()["detail"]
    json_body = await stack.client.post(url, json={"path": "/x"}, headers=alice)
    assert json_body.status_code == 400 and "multipart/form-data" in json_body.json()["detail"]
    broken = await stack.client.post(
        url,
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nno end',
        headers={**alice, "Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert broken.status_code == 400
    spool = stack.app.state.context.settings.data_dir / "spool"
    assert not any(spool.iterdir())  # nothing refused is left on disk
    bob = await stack.login("bob")
    foreign = await stack.client.post(
        url, files={"file": ("a.txt", b"a", "text/plain")}, headers=bob
    )
    assert foreign.status_code == 403


@pytest.mark.reliability
async def test_another_collections_upload_cannot_be_added_as_a_source(stack: Stack) -> None:
    alice = await stack.login("alice")
    secrets = await stack.create_collection(alice, "secrets")
    uploaded = await stack.client.post(
        f"/api/v2/collections/{secrets['id']}/sources/upload",
        files={"file": ("plan.md", b"# Plan\n\nConfidential.\n", "text/markdown")},
        headers=alice,
    )
    assert uploaded.status_code == 202, uploaded.text
    bob = await stack.login("bob")
    mine = await stack.create_collection(bob, "mine")
    for owner, target in ((bob, mine), (alice, await stack.create_collection(alice, "other"))):
        taken = await stack.client.post(
            f"/api/v2/collections/{target['id']}/sources",
            json={"path": uploaded.json()["source"]["path"]},
            headers=owner,
        )
        assert taken.status_code == 403, taken.text
        assert "not an upload of this collection" in taken.json()["detail"]
        listed = await stack.client.get(
            f"/api/v2/collections/{target['id']}/sources", headers=owner
        )
        assert listed.json()["items"] == []


async def test_uploads_of_one_name_at_once_get_a_version_each(stack: Stack, tmp_path: Path) -> None:
    collection = uuid.uuid4()
    store = await stack.bus.upload_store()
    # Stored before names were reserved: its name stays taken.
    await store.put(f"{collection}/report.pdf", b"older")
    files = []
    for n in range(6):
        path = tmp_path / f"upload-{n}"
        path.write_bytes(f"copy {n}".encode())
        files.append(ReceivedUpload("report.pdf", path, path.stat().st_size))
    # Two gateway processes, each with its own connection, storing three at once.
    assert stack.bus.nc.connected_url is not None
    other = await Bus.connect(stack.bus.nc.connected_url.geturl(), "gateway-2")
    try:
        buses = [stack.bus, other] * 3
        paths = await asyncio.gather(
            *(store_upload(bus, collection, f) for bus, f in zip(buses, files, strict=True))
        )
    finally:
        await other.close()
    names = sorted(p.rsplit("/", 1)[1] for p in paths)
    assert names == [f"report_v{n}.pdf" for n in range(2, 8)]
    contents = {(await store.get(f"{collection}/{name}")).data for name in names}
    assert contents == {f"copy {n}".encode() for n in range(6)}  # none overwrote another


@pytest.mark.reliability
async def test_an_upload_name_held_elsewhere_is_a_409_and_a_stale_hold_is_taken_over(
    stack: Stack,
) -> None:
    collection = uuid.uuid4()
    names = await stack.bus.upload_names()
    key = f"{name_key(collection, 'prices.csv')}.lock"
    await names.create(key, f"{time.time()}".encode())  # another gateway stores it now
    with pytest.raises(RpcFailure) as busy:
        async with name_locked(stack.bus, collection, "prices.csv", wait=0.2):
            pass
    assert busy.value.error.code is ErrorCode.CONFLICT
    assert "prices.csv is being uploaded" in busy.value.error.message
    # That gateway stopped long ago: its hold is taken over, and released after use.
    entry = await names.get(key)
    await names.update(key, f"{time.time() - 3600}".encode(), last=entry.revision)
    async with name_locked(stack.bus, collection, "prices.csv", wait=0.2):
        held = await names.get(key)
        assert float((held.value or b"0").decode()) > time.time() - 60
    async with name_locked(stack.bus, collection, "prices.csv", wait=0.2):
        pass  # free again
