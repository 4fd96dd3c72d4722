"""Several files in one upload request (``.../sources/uploads``) against the real
collections and ingest services: each its own source and queued operation, a refused
file refused alone, the request bounded in files and bytes."""

from __future__ import annotations

import httpx
import pytest
from semantik_runtime.bus import Bus

from .edges import bearer, new_collection, sign_in
from .served import ServedGateway

pytestmark = pytest.mark.integration


async def test_several_files_in_one_request_become_a_source_and_operation_each(
    served: ServedGateway,
    client: httpx.AsyncClient,
) -> None:
    alice = bearer((await sign_in(client, "alice"))["access_token"])
    docs = {"id": await new_collection(client, alice, "many")}
    url = f"/api/v2/collections/{docs['id']}/sources/uploads"
    parts = [
        ("file", ("a.md", b"# A\n\nFirst file.\n", "text/markdown")),
        ("file", ("tool.exe", b"MZ\x90\x00binary", "application/octet-stream")),
        ("file", ("../../b.md", b"# B\n\nSecond file.\n", "text/markdown")),
        ("file", ("c\x00.md", b"# C\n\nThird file.\n", "text/markdown")),
    ]
    reply = await client.post(url, files=parts, headers=alice)
    assert reply.status_code == 202, reply.text
    answers = reply.json()["files"]
    names = [a["filename"] for a in answers]
    assert names[:3] == ["a.md", "tool.exe", "b.md"]  # no path parts kept
    assert names[3].startswith("c_") and names[3].endswith(".md")  # no NUL (nor %) kept
    bad = answers[1]
    assert bad["source"] is None and bad["operation"] is None
    assert bad["error"]["status"] == 400 and "unsupported file type" in bad["error"]["detail"]
    good = [a for a in answers if a["error"] is None]
    assert len(good) == 3 and len({a["source"]["id"] for a in good}) == 3
    # Each its own operation: the first runs, the others wait in the collection's queue.
    operations = [a["operation"] for a in good]
    assert len({o["id"] for o in operations}) == 3
    assert [o.get("queue_position") for o in operations[1:]] == [1, 2]
    listed = await client.get(f"/api/v2/collections/{docs['id']}/sources", headers=alice)
    paths = sorted(s["path"].rsplit("/", 1)[1] for s in listed.json()["items"])
    assert paths == ["a.md", "b.md", names[3]]  # the refused file is no source
    bus = await Bus.connect(served.nats_url, "test")
    try:
        stored = await (await bus.upload_store()).get(f"{docs['id']}/b.md")
        assert stored.data == b"# B\n\nSecond file.\n"
    finally:
        await bus.close()
    assert served.app is not None
    spool = served.app.state.context.settings.data_dir / "spool"
    assert not any(spool.iterdir())
    for operation in operations:  # the queue is left empty for the next test
        await client.post(f"/api/v2/operations/{operation['id']}/cancel", headers=alice)


@pytest.mark.reliability
async def test_a_multi_file_upload_is_bounded(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    alice = bearer((await sign_in(client, "alice"))["access_token"])
    docs = {"id": await new_collection(client, alice, "bounded")}
    url = f"/api/v2/collections/{docs['id']}/sources/uploads"
    too_many = [("file", (f"f{n}.txt", b"x", "text/plain")) for n in range(51)]
    reply = await client.post(url, files=too_many, headers=alice)
    assert reply.status_code == 400 and "1 to 50 files" in reply.json()["detail"]
    assert served.app is not None
    settings = served.app.state.context.settings
    limit, settings.upload_max_bytes = settings.upload_max_bytes, 1000
    halves = [("file", (f"h{n}.txt", b"x" * 600, "text/plain")) for n in range(2)]
    reply = await client.post(url, files=halves, headers=alice)
    assert reply.status_code == 413 and "larger than 1000 bytes" in reply.json()["detail"]
    settings.upload_max_bytes = limit
    wrong_field = await client.post(
        url, files={"document": ("a.txt", b"a", "text/plain")}, headers=alice
    )
    assert wrong_field.status_code == 400 and "form field 'file'" in wrong_field.json()["detail"]
    bad_columns = await client.post(
        url,
        files={"file": ("a.csv", b"a,b\n1,2\n", "text/csv")},
        data={"id_column": "x" * 300},
        headers=alice,
    )
    assert bad_columns.status_code == 422
    listed = await client.get(f"/api/v2/collections/{docs['id']}/sources", headers=alice)
    assert listed.json()["items"] == []
    assert served.app is not None
    spool = served.app.state.context.settings.data_dir / "spool"
    assert not any(spool.iterdir())


@pytest.mark.reliability
async def test_a_refused_version_leaves_the_previous_one_in_place(
    served: ServedGateway, client: httpx.AsyncClient
) -> None:
    alice = bearer((await sign_in(client, "alice"))["access_token"])
    collection = await new_collection(client, alice, "prices")
    url = f"/api/v2/collections/{collection}/sources/upload"
    columns = {"text_columns": "item"}
    first = await client.post(
        url, files={"file": ("prices.csv", b"item,price\nbread,2\n")}, data=columns, headers=alice
    )
    assert first.status_code == 202, first.text
    # Version 2 lacks the column: refused, and version 1 is still the file and the source.
    second = await client.post(
        url, files={"file": ("prices.csv", b"thing,price\nmilk,1\n")}, data=columns, headers=alice
    )
    assert second.status_code == 400 and "'item' not found" in second.json()["detail"]
    listed = await client.get(f"/api/v2/collections/{collection}/sources", headers=alice)
    (source,) = listed.json()["items"]
    assert source["id"] == first.json()["source"]["id"]
    assert [v["version"] for v in source["versions"]] == [1]
    bus = await Bus.connect(served.nats_url, "test")
    try:
        stored = await (await bus.upload_store()).get(f"{collection}/prices.csv")
        assert stored.data == b"item,price\nbread,2\n"
    finally:
        await bus.close()
    # A very long name is cut (its extension kept), a name of dots alone is 'upload'.
    long_name = "p" * 300 + ".md"
    answers = await client.post(
        f"/api/v2/collections/{collection}/sources/uploads",
        files=[("file", (long_name, b"# Long\n")), ("file", ("..", b"# Dots\n"))],
        headers=alice,
    )
    assert answers.status_code == 202, answers.text
    names = [a["filename"] for a in answers.json()["files"]]
    assert names == ["p" * 197 + ".md", "upload"]
    long_one, dots = answers.json()["files"]
    assert long_one["error"] is None and long_one["source"]["path"].endswith("p" * 197 + ".md")
    assert dots["error"]["status"] == 400  # no extension: no known type
    await client.post(f"/api/v2/operations/{long_one['operation']['id']}/cancel", headers=alice)
