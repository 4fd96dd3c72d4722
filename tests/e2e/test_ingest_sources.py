"""Sources and formats as a new user meets them: HTTP only, the whole system running."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from services.ingest.tests.corpus import good_documents, write_bad_corpus

from .conftest import RunningSystem
from .test_walking_skeleton import login, wait_operation

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CORPUS = [
    {
        "_id": "geo-1",
        "title": "Volcanoes",
        "text": "Magma rises and erupts as lava.",
        "kind": "geo",
    },
    {
        "_id": "food-1",
        "title": "Bread",
        "text": "Sourdough needs a starter and time.",
        "kind": "food",
    },
    {
        "_id": "geo-2",
        "title": "Glaciers",
        "text": "Ice flows downhill carving valleys.",
        "kind": "geo",
    },
    {
        "_id": "space-1",
        "title": "Orbits",
        "text": "Planets move on elliptical orbits.",
        "kind": "space",
    },
]


async def new_collection(
    client: httpx.AsyncClient, username: str, name: str
) -> tuple[dict[str, str], dict[str, Any], str]:
    """A new user's headers, their new collection, and its URL."""
    auth = await login(client, username)
    headers = {"Authorization": auth["Authorization"]}
    reply = await client.post("/api/v2/collections", json={"name": name}, headers=headers)
    assert reply.status_code == 201, reply.text
    collection: dict[str, Any] = reply.json()
    return headers, collection, f"/api/v2/collections/{collection['id']}"


async def search(
    client: httpx.AsyncClient, headers: dict[str, str], collection_id: str, body: dict[str, Any]
) -> list[dict[str, Any]]:
    reply = await client.post(
        f"/api/v2/collections/{collection_id}/search", json=body, headers=headers
    )
    assert reply.status_code == 200, reply.text
    results: list[dict[str, Any]] = reply.json()["results"]
    return results


async def test_a_beir_corpus_as_a_record_source(system: RunningSystem) -> None:
    folder = system.sources / "beir"
    folder.mkdir(parents=True)
    corpus = folder / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(row) + "\n" for row in CORPUS))
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        headers, collection, base = await new_collection(client, "rita", "beir")

        wrong = await client.post(
            f"{base}/sources",
            json={"path": str(corpus), "text_columns": ["title", "body"], "id_column": "_id"},
            headers=headers,
        )
        assert wrong.status_code == 400
        assert "'body' not found; the columns are: _id, title, text, kind" in wrong.text

        added = await client.post(
            f"{base}/sources",
            json={
                "path": str(corpus),
                "text_columns": ["title", "text"],
                "context_columns": ["kind"],
                "id_column": "_id",
            },
            headers=headers,
        )
        assert added.status_code == 202, added.text
        assert added.json()["source"]["text_columns"] == ["title", "text"]
        op = await wait_operation(client, headers, added.json()["operation"]["id"])
        assert op["status"] == "completed", op
        assert op["stats"]["new_documents"] == len(CORPUS)
        coll = (await client.get(base, headers=headers)).json()
        assert coll["document_count"] == len(CORPUS)
        assert coll["vector_count"] == coll["chunk_count"] == len(CORPUS)

        results = await search(client, headers, collection["id"], {"query": "lava eruption"})
        top = results[0]
        assert top["metadata"]["record_id"] == "geo-1"
        assert top["metadata"]["columns"] == {"kind": "geo"}
        assert top["path"] == f"{corpus}#geo-1"
        assert top["text"] == "Volcanoes\n\nMagma rises and erupts as lava."

        only_geo = await search(
            client,
            headers,
            collection["id"],
            {"query": "things that move", "filters": {"columns.kind": "geo"}},
        )
        assert {r["metadata"]["record_id"] for r in only_geo} == {"geo-1", "geo-2"}


@pytest.mark.reliability
async def test_every_format_and_bad_input_through_the_api(system: RunningSystem) -> None:
    folder = system.sources / "inbox"
    folder.mkdir(parents=True)
    good = good_documents()
    for name, (data, _) in good.items():
        (folder / name).write_bytes(data)
    bad = write_bad_corpus(folder / "bad", 50 * 1024 * 1024)
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        headers, collection, base = await new_collection(client, "gus", "inbox")
        added = await client.post(f"{base}/sources", json={"path": str(folder)}, headers=headers)
        assert added.status_code == 202, added.text
        op = await wait_operation(client, headers, added.json()["operation"]["id"])
        assert op["status"] == "completed", op
        failures = {f["path"].rsplit("/", 1)[1]: f["reason"] for f in op["failures"]}
        assert set(failures) == set(bad)
        for name, reason in bad.items():
            assert failures[name].startswith(reason), (name, failures[name])
        assert op["stats"]["new_documents"] == len(good)
        assert op["stats"]["failed"] == len(bad)

        listed: dict[str, Any] = {}
        deadline = time.monotonic() + 120  # ingest hears of the embedders' writes a moment later
        while time.monotonic() < deadline:
            listed = (await client.get(f"{base}/documents?limit=100", headers=headers)).json()
            if all(d["status"] != "pending" for d in listed["items"]):
                break
            await asyncio.sleep(0.2)
        assert listed["total"] == len(good) + len(bad)
        by_name = {d["path"].rsplit("/", 1)[1]: d for d in listed["items"]}
        assert {n for n, d in by_name.items() if d["status"] == "indexed"} == set(good)
        assert by_name["encrypted.pdf"]["reason"] == bad["encrypted.pdf"]
        failed = (await client.get(f"{base}/documents?status=failed", headers=headers)).json()
        assert {d["path"].rsplit("/", 1)[1] for d in failed["items"]} == set(bad)

        for name, (_, phrase) in good.items():
            results = await search(client, headers, collection["id"], {"query": phrase})
            assert results[0]["path"] == str(folder / name), (name, results[:2])
            assert phrase in results[0]["text"]

        # A changed file is found with its new text only; a deleted one is gone.
        (folder / "bread.txt").write_text("Rye bread is dense and dark.\n")
        (folder / "volcano.md").unlink()
        again = await client.post(f"{base}/operations/index", headers=headers)
        assert again.status_code == 202, again.text
        op = await wait_operation(client, headers, again.json()["id"])
        assert op["status"] == "completed", op
        assert (op["stats"]["new_documents"], op["stats"]["removed"]) == (1, 2)
        results = await search(client, headers, collection["id"], {"query": "sourdough starter"})
        assert all("Sourdough" not in r["text"] for r in results)
        assert all(not r["path"].endswith("volcano.md") for r in results)
        rye = await search(client, headers, collection["id"], {"query": "dense dark rye bread"})
        assert rye[0]["path"] == str(folder / "bread.txt")


async def test_change_columns_then_remove_the_source(system: RunningSystem) -> None:
    table = system.sources / "tools.csv"
    table.write_text(
        "sku,name,blurb\n1,Hammer,Drives nails into wood\n2,Saw,Cuts planks to length\n"
    )
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        headers, collection, base = await new_collection(client, "tom", "tools")
        body = {"path": str(table), "text_columns": ["name"], "id_column": "sku"}
        added = (await client.post(f"{base}/sources", json=body, headers=headers)).json()
        source_id = added["source"]["id"]
        assert (await wait_operation(client, headers, added["operation"]["id"]))["status"] == (
            "completed"
        )
        hits = await search(client, headers, collection["id"], {"query": "hammer"})
        assert hits[0]["text"] == "Hammer"

        bad = await client.patch(
            f"{base}/sources/{source_id}", json={"text_columns": ["nope"]}, headers=headers
        )
        assert bad.status_code == 400 and "'nope' not found" in bad.text
        changed = await client.patch(
            f"{base}/sources/{source_id}",
            json={"text_columns": ["name", "blurb"], "id_column": "sku"},
            headers=headers,
        )
        assert changed.status_code == 202, changed.text
        assert changed.json()["operation"]["type"] == "reindex"  # staged: old rows serve on
        op = await wait_operation(client, headers, changed.json()["operation"]["id"])
        assert op["status"] == "completed", op
        hits = await search(client, headers, collection["id"], {"query": "drives nails"})
        assert hits[0]["text"] == "Hammer\n\nDrives nails into wood"
        assert {h["text"] for h in hits} == {
            "Hammer\n\nDrives nails into wood",
            "Saw\n\nCuts planks to length",
        }  # the old vectors are gone once the new are written

        # A removal while the source is embedded again waits in the queue, then runs.
        back = await client.patch(
            f"{base}/sources/{source_id}",
            json={"text_columns": ["name"], "id_column": "sku"},
            headers=headers,
        )
        assert back.status_code == 202, back.text
        removed = await client.delete(f"{base}/sources/{source_id}", headers=headers)
        assert removed.status_code == 202, removed.text
        queued = removed.json()["operation"]
        assert (queued["type"], queued["status"], queued["queue_position"]) == (
            "remove_source",
            "queued",
            1,
        )
        op = await wait_operation(client, headers, back.json()["operation"]["id"])
        assert op["status"] == "completed", op
        op = await wait_operation(client, headers, queued["id"])
        assert op["status"] == "completed" and op["stats"]["removed"] == 2, op
        assert await search(client, headers, collection["id"], {"query": "hammer"}) == []
        coll = (await client.get(base, headers=headers)).json()
        assert (coll["document_count"], coll["vector_count"]) == (0, 0)


async def test_uploaded_files_are_versioned_sources(system: RunningSystem) -> None:
    """An upload of a name the collection has is its source's next version: the new
    version's rows replace the old ones; keep_versions keeps a separate source."""
    rows = b"sku,name,blurb\n1,Lantern,Lights the campsite at night\n2,Compass,Points north\n"
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        headers, collection, base = await new_collection(client, "uma", "gear")
        form = {"text_columns": ["name", "blurb"], "id_column": "sku"}
        first = await client.post(
            f"{base}/sources/upload",
            files={"file": ("gear list.csv", rows, "text/csv")},
            data=form,
            headers=headers,
        )
        assert first.status_code == 202, first.text
        source = first.json()["source"]
        assert source["kind"] == "upload" and source["path"].endswith("/gear list.csv")
        assert [v["version"] for v in source["versions"]] == [1]
        op = await wait_operation(client, headers, first.json()["operation"]["id"])
        assert op["status"] == "completed" and op["stats"]["new_documents"] == 2, op
        hits = await search(client, headers, collection["id"], {"query": "light at night"})
        assert hits[0]["metadata"]["record_id"] == "1"

        # Version 2: the lantern is gone, the compass changed, a tent is new.
        changed = b"sku,name,blurb\n2,Compass,Points to magnetic north\n3,Tent,Sleeps two dry\n"
        second = await client.post(
            f"{base}/sources/upload",
            files={"file": ("gear list.csv", changed, "text/csv")},
            data=form,
            headers=headers,
        )
        assert second.status_code == 202, second.text
        again = second.json()["source"]
        assert (again["id"], again["path"]) == (source["id"], source["path"])
        assert [(v["version"], v["size"]) for v in again["versions"]] == [
            (1, len(rows)),
            (2, len(changed)),
        ]
        # Embedded staged: a reindex into a new generation, switched to when complete.
        assert second.json()["operation"]["type"] == "reindex"
        op = await wait_operation(client, headers, second.json()["operation"]["id"])
        assert op["status"] == "completed", op
        hits = await search(client, headers, collection["id"], {"query": "camping gear"})
        assert sorted(h["metadata"]["record_id"] for h in hits) == ["2", "3"]  # no v1 row
        coll = (await client.get(base, headers=headers)).json()
        assert coll["document_count"] == 2
        listed = (await client.get(f"{base}/sources", headers=headers)).json()["items"]
        assert [s["id"] for s in listed] == [source["id"]]

        # Version 3's operation cancelled: version 2's rows are what search finds.
        third = await client.post(
            f"{base}/sources/upload",
            files={"file": ("gear list.csv", b"sku,name,blurb\n9,Stove,Boils water\n", "text/csv")},
            data=form,
            headers=headers,
        )
        assert third.status_code == 202, third.text
        cancelled = await client.post(
            f"/api/v2/operations/{third.json()['operation']['id']}/cancel", headers=headers
        )
        assert cancelled.status_code in (200, 202), cancelled.text
        op = await wait_operation(client, headers, third.json()["operation"]["id"])
        assert op["status"] == "cancelled", op
        hits = await search(client, headers, collection["id"], {"query": "camping gear"})
        assert sorted(h["metadata"]["record_id"] for h in hits) == ["2", "3"]

        kept = await client.post(
            f"{base}/sources/upload",
            files={"file": ("gear list.csv", rows, "text/csv")},
            data={**form, "keep_versions": "true"},
            headers=headers,
        )
        assert kept.status_code == 202, kept.text
        assert kept.json()["source"]["id"] != source["id"]
        assert kept.json()["source"]["path"].endswith("/gear list_v2.csv")
        op = await wait_operation(client, headers, kept.json()["operation"]["id"])
        assert op["status"] == "completed", op

        wrong = await client.post(
            f"{base}/sources/upload",
            files={"file": ("gear.csv", rows, "text/csv")},
            data={"text_columns": "title"},
            headers=headers,
        )
        assert wrong.status_code == 400 and "'title' not found" in wrong.text
        other = await login(client, "vic")
        foreign = await client.post(
            f"{base}/sources/upload",
            files={"file": ("x.txt", b"x", "text/plain")},
            headers={"Authorization": other["Authorization"]},
        )
        assert foreign.status_code == 403


async def test_a_ready_collections_counts_agree_after_an_upload_and_a_server_table(
    system: RunningSystem,
) -> None:
    """The web UI's flow (issue 27: a card showed Vectors 4 next to 7 chunks): an
    uploaded table, then a second table on the server; once ready, every count agrees."""
    tickets = (
        b"ticket_id,title,body,team\n1,Pricing page wrong,The old price per seat,web\n"
        b"2,VPN drops,The VPN drops every hour,it\n3,Discount missing,Not on invoices,billing\n"
        b"4,Laptop encryption,No disk encryption,it\n"
    )
    (system.sources / "more-tickets.csv").write_text(
        "key,subject,details\nT-7,Invoice discount,Shows twice\nT-8,Printer,Jams\n"
        "T-9,Seat price,Why the price changed\n"
    )
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        headers, _, base = await new_collection(client, "tia", "tickets")
        first = await client.post(
            f"{base}/sources/upload",
            files={"file": ("tickets.csv", tickets, "text/csv")},
            data={"text_columns": ["title", "body"], "id_column": "ticket_id"},
            headers=headers,
        )
        assert first.status_code == 202, first.text
        await wait_operation(client, headers, first.json()["operation"]["id"])
        second = await client.post(
            f"{base}/sources",
            json={
                "path": str(system.sources / "more-tickets.csv"),
                "text_columns": ["subject", "details"],
                "id_column": "key",
            },
            headers=headers,
        )
        assert second.status_code == 202, second.text
        op = await wait_operation(client, headers, second.json()["operation"]["id"])
        assert op["status"] == "completed", op
        coll = (await client.get(base, headers=headers)).json()
        counts = (coll["document_count"], coll["chunk_count"], coll["vector_count"])
        assert counts == (7, 7, 7), coll
        listed = (await client.get("/api/v2/collections", headers=headers)).json()["items"]
        assert [(c["chunk_count"], c["vector_count"]) for c in listed] == [(7, 7)]


async def test_an_uploaded_tables_column_facets_count_its_rows_and_refine_the_search(
    system: RunningSystem,
) -> None:
    """Facets of a CSV upload's context columns (issue 26): counted over the candidates,
    each value a filter of the same search; another user's table of the same columns
    stays out of them, and their collection cannot be searched at all."""
    mine = b"id,title,city,team\n1,Heating fails,Oslo,ops\n2,Heating is noisy,Bergen,ops\n"
    mine += b"3,Window broken,Oslo,facilities\n4,Heating off at night,Oslo,ops\n"
    theirs = b"id,title,city,team\n1,Heating fails,Paris,ops\n2,Heating is noisy,Lyon,ops\n"
    keys = ["file_type", "mime", "source_id", "columns.city", "columns.team"]
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        ids = []
        for user, rows in (("fay", mine), ("gil", theirs)):
            headers, collection, base = await new_collection(client, user, "rooms")
            uploaded = await client.post(
                f"{base}/sources/upload",
                files={"file": ("rooms.csv", rows, "text/csv")},
                data={"text_columns": ["title"], "context_columns": ["city", "team"]},
                headers=headers,
            )
            assert uploaded.status_code == 202, uploaded.text
            op = await wait_operation(client, headers, uploaded.json()["operation"]["id"])
            assert op["status"] == "completed", op
            ids.append((headers, collection["id"], uploaded.json()["source"]["id"]))
        (fay, rooms, source), (_, gil_rooms, _) = ids

        url = f"/api/v2/collections/{rooms}/search"
        reply = await client.post(url, json={"query": "heating", "facets": keys}, headers=fay)
        assert reply.status_code == 200, reply.text
        facets = reply.json()["facets"]
        assert list(facets["columns.city"].items()) == [("Oslo", 3), ("Bergen", 1)]
        assert list(facets["columns.team"].items()) == [("ops", 3), ("facilities", 1)]
        assert facets["file_type"] == {"csv": 4}
        assert facets["source_id"] == {source: 4}
        assert list(facets["mime"].values()) == [4]

        refine = {"query": "heating", "facets": keys, "filters": {"columns.city": "Oslo"}}
        refined = (await client.post(url, json=refine, headers=fay)).json()
        assert refined["facets"]["columns.city"] == {"Oslo": 3}
        assert list(refined["facets"]["columns.team"].items()) == [("ops", 2), ("facilities", 1)]
        assert {r["metadata"]["columns"]["city"] for r in refined["results"]} == {"Oslo"}

        both = {"query": "heating", "facets": keys, "collection_ids": [rooms, gil_rooms]}
        assert (await client.post("/api/v2/search", json=both, headers=fay)).status_code in (
            403,
            404,
        )


async def test_several_files_uploaded_at_once_each_become_a_source(system: RunningSystem) -> None:
    """One request, several files: each a source with its own operation, queued behind
    the first and completed in turn; a refused file is refused alone."""
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        headers, collection, base = await new_collection(client, "una", "notes")
        parts = [
            ("file", ("tides.md", b"# Tides\n\nThe moon pulls the sea twice a day.\n")),
            ("file", ("ferns.md", b"# Ferns\n\nFerns spread by spores, not seeds.\n")),
            ("file", ("tool.exe", b"MZ\x90\x00 not a document")),
            ("file", ("kilns.md", b"# Kilns\n\nA kiln fires clay into pottery.\n")),
        ]
        reply = await client.post(f"{base}/sources/uploads", files=parts, headers=headers)
        assert reply.status_code == 202, reply.text
        answers = reply.json()["files"]
        assert [a["filename"] for a in answers] == ["tides.md", "ferns.md", "tool.exe", "kilns.md"]
        refused = answers.pop(2)
        assert refused["source"] is None and refused["error"]["status"] == 400
        assert "unsupported file type" in refused["error"]["detail"]
        assert [a["operation"]["queue_position"] for a in answers[1:]] == [1, 2]
        for answer in answers:
            op = await wait_operation(client, headers, answer["operation"]["id"])
            assert op["status"] == "completed", op
        listed = (await client.get(f"{base}/sources", headers=headers)).json()["items"]
        assert sorted(s["id"] for s in listed) == sorted(a["source"]["id"] for a in answers)
        for query, name in (("sea and moon", "tides.md"), ("pottery clay", "kilns.md")):
            hits = await search(client, headers, collection["id"], {"query": query})
            assert hits[0]["path"].endswith(name), hits[0]
