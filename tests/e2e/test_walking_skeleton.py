"""The walking skeleton, as a user drives it: HTTP and WebSocket only."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from .conftest import RunningSystem, register

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOPICS = {
    "volcano.md": "# Volcanoes\n\nA volcano erupts when magma rises through the crust. "
    "Lava flows and ash clouds follow the eruption of a stratovolcano.",
    "baking.txt": "Sourdough bread needs a starter of flour and water, a long fermentation "
    "and a hot oven. The crust of the loaf caramelises while baking.",
    "orbits.md": "# Orbital mechanics\n\nA satellite in low earth orbit circles the planet in "
    "about ninety minutes; Kepler's laws describe elliptical orbits.",
}


async def login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    body = {"username": username, "password": "correct horse battery"}
    assert await register(client, body) == 201
    tokens = (await client.post("/api/v1/auth/login", json=body)).json()
    return {"Authorization": f"Bearer {tokens['access_token']}", "token": tokens["access_token"]}


async def wait_operation(
    client: httpx.AsyncClient, headers: dict[str, str], op_id: str, timeout: float = 240
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op = (await client.get(f"/api/v2/operations/{op_id}", headers=headers)).json()
        if op["status"] in ("completed", "failed", "cancelled"):
            return dict(op)
        await asyncio.sleep(0.5)
    raise AssertionError(f"operation {op_id} did not finish: {op}")


async def follow(
    url: str,
    token: str,
    subscribe: dict[str, Any],
    until: str,
    received: list[dict[str, Any]],
    timeout: float = 240,
) -> None:
    ws_url = url.replace("http", "ws", 1) + f"/ws?token={token}"
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps(subscribe))
        async with asyncio.timeout(timeout):
            async for raw in ws:
                message = json.loads(raw)
                if "seq" in message:
                    received.append(message)
                    if message["type"] == until:
                        return


def write_sources(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


async def test_index_search_and_live_events(system: RunningSystem) -> None:
    folder = write_sources(system.sources / "notes", TOPICS)
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        auth = await login(client, "alice")
        headers = {"Authorization": auth["Authorization"]}
        created = await client.post("/api/v2/collections", json={"name": "notes"}, headers=headers)
        assert created.status_code == 201, created.text
        collection = created.json()
        assert collection["status"] == "pending"

        live: list[dict[str, Any]] = []
        watcher = asyncio.create_task(
            follow(
                system.url,
                auth["token"],
                {"type": "subscribe_collection", "collection_id": collection["id"]},
                "OperationCompleted",
                live,
            )
        )
        await asyncio.sleep(1.0)  # let the subscription start before the work does

        added = await client.post(
            f"/api/v2/collections/{collection['id']}/sources",
            json={"path": str(folder)},
            headers=headers,
        )
        assert added.status_code == 202, added.text
        op_id = added.json()["operation"]["id"]
        op = await wait_operation(client, headers, op_id)
        assert op["status"] == "completed", op
        assert op["stats"]["new_documents"] == 3
        await asyncio.wait_for(watcher, 30)

        coll = (await client.get(f"/api/v2/collections/{collection['id']}", headers=headers)).json()
        assert coll["status"] == "ready"
        assert coll["document_count"] == 3
        assert coll["chunk_count"] >= 3
        assert coll["vector_count"] == coll["chunk_count"]

        found = await client.post(
            f"/api/v2/collections/{collection['id']}/search",
            json={"query": "when does magma erupt from a volcano"},
            headers=headers,
        )
        assert found.status_code == 200, found.text
        results = found.json()["results"]
        assert results and results[0]["path"].endswith("volcano.md")

        # Everything the live client saw, in stream order, ends with the completion.
        types = [m["type"] for m in live]
        assert "OperationRequested" in types and types[-1] == "OperationCompleted"
        seqs = [m["seq"] for m in live]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

        # A client that connects late with last_seq gets exactly what came after it.
        pivot = live[len(live) // 2]
        late: list[dict[str, Any]] = []
        await follow(
            system.url,
            auth["token"],
            {
                "type": "subscribe_collection",
                "collection_id": collection["id"],
                "last_seq": pivot["seq"],
            },
            "OperationCompleted",
            late,
            timeout=30,
        )
        expected = [m["seq"] for m in live if m["seq"] > pivot["seq"]]
        assert [m["seq"] for m in late] == expected

        # A re-scan of the unchanged folder embeds nothing.
        again = await client.post(
            f"/api/v2/collections/{collection['id']}/operations/index", headers=headers
        )
        assert again.status_code == 202, again.text
        op2 = await wait_operation(client, headers, again.json()["id"])
        assert op2["status"] == "completed" and op2["processed"] == 0
        assert op2["stats"]["unchanged_skipped"] == 3


def test_cli_ingest_and_search(system: RunningSystem) -> None:
    folder = write_sources(
        system.sources / "cli",
        {
            "tides.md": "Tides are caused by the gravitational pull of the moon on the oceans.",
            "jazz.txt": "Bebop jazz features fast tempos, complex chords and improvisation.",
        },
    )
    semantik = str(Path(sys.executable).parent / "semantik")
    env = {**os.environ, "SEMANTIK_DATA_DIR": str(system.data_dir)}
    ingest = subprocess.run(
        [semantik, "ingest", str(folder), "--collection", "cli-notes", "--url", system.url],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    assert "completed: 2 new" in ingest.stdout
    assert "chunk" in ingest.stderr  # the progress bar
    search = subprocess.run(
        [
            semantik,
            "search",
            "why does the sea rise and fall",
            "--collection",
            "cli-notes",
            "--url",
            system.url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert search.returncode == 0, search.stderr
    first = search.stdout.splitlines()[0]
    assert first.strip().startswith("1.") and first.endswith("tides.md")


async def test_embedder_killed_mid_operation_still_completes_exactly(system: RunningSystem) -> None:
    words = [
        "river",
        "mountain",
        "forest",
        "desert",
        "ocean",
        "glacier",
        "canyon",
        "valley",
        "prairie",
        "tundra",
        "lagoon",
        "estuary",
        "delta",
        "plateau",
        "savanna",
        "wetland",
        "reef",
        "fjord",
        "dune",
        "meadow",
    ]
    files = {
        f"doc{i:03d}.txt": f"Field report {i}. "
        + " ".join(f"{words[(i + j) % len(words)]} {j}" for j in range(450))
        for i in range(20)
    }  # about a hundred chunks: a few seconds of embedding to be killed in
    folder = write_sources(system.sources / "bulk", files)
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        auth = await login(client, "bob")
        headers = {"Authorization": auth["Authorization"]}
        collection = (
            await client.post("/api/v2/collections", json={"name": "bulk"}, headers=headers)
        ).json()
        added = await client.post(
            f"/api/v2/collections/{collection['id']}/sources",
            json={"path": str(folder)},
            headers=headers,
        )
        assert added.status_code == 202, added.text
        op_id = added.json()["operation"]["id"]
        embedder_pid = system.pid("embedder")
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # kill while embedding is under way
            op = (await client.get(f"/api/v2/operations/{op_id}", headers=headers)).json()
            if op["processed"] > 0 and op["processed"] < op["total"]:
                break
            assert op["status"] not in ("completed", "failed"), "finished before the kill"
            await asyncio.sleep(0.2)
        os.kill(embedder_pid, signal.SIGKILL)

        op = await wait_operation(client, headers, op_id, timeout=400)
        assert op["status"] == "completed", op
        assert op["processed"] == op["total"]
        assert system.pid("embedder") != embedder_pid  # the supervisor restarted it
        coll = (await client.get(f"/api/v2/collections/{collection['id']}", headers=headers)).json()
        assert coll["document_count"] == 20
        assert coll["vector_count"] == coll["chunk_count"] == op["total"]


async def test_reindex_into_another_model_while_search_answers(system: RunningSystem) -> None:
    """The vector host starts the new model's embedder itself (one process owns the
    Edge shards); search answers throughout and from the new generation after."""
    folder = write_sources(system.sources / "reindexed", TOPICS)
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        headers = {"Authorization": (await login(client, "rita"))["Authorization"]}
        created = await client.post("/api/v2/collections", json={"name": "r"}, headers=headers)
        cid = created.json()["id"]
        added = await client.post(
            f"/api/v2/collections/{cid}/sources", json={"path": str(folder)}, headers=headers
        )
        assert (await wait_operation(client, headers, added.json()["operation"]["id"]))[
            "status"
        ] == "completed"
        reindex = await client.post(
            f"/api/v2/collections/{cid}/operations/reindex",
            json={"model_name": "acme/tiny-bert", "chunk_size": 32, "chunk_overlap": 0},
            headers=headers,
        )
        assert reindex.status_code == 202, reindex.text
        failed_searches = 0
        while True:
            found = await client.post(
                f"/api/v2/collections/{cid}/search", json={"query": "magma"}, headers=headers
            )
            failed_searches += found.status_code != 200 or not found.json()["results"]
            op = (
                await client.get(f"/api/v2/operations/{reindex.json()['id']}", headers=headers)
            ).json()
            if op["status"] != "processing" and op["status"] != "pending":
                break
            await asyncio.sleep(0.2)
        assert op["status"] == "completed", op
        assert failed_searches == 0
        coll = (await client.get(f"/api/v2/collections/{cid}", headers=headers)).json()
        assert (coll["model_name"], coll["active_generation"], coll["chunk_size"]) == (
            "acme/tiny-bert",
            2,
            32,
        )
        assert coll["vector_count"] == coll["chunk_count"] >= 3
        found = await client.post(
            f"/api/v2/collections/{cid}/search",
            json={"query": "magma", "search_type": "sparse"},
            headers=headers,
        )
        assert found.json()["results"][0]["path"].endswith("volcano.md")


async def test_one_search_over_collections_of_two_models(system: RunningSystem) -> None:
    """``POST /api/v2/search`` over a collection of the default model and one of
    acme/tiny-bert: each is searched with its own model's query embedding (the vector
    host runs both embedders) and the lists are merged by rank, not by raw scores."""
    folder = write_sources(system.sources / "federated", TOPICS)
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        headers = {"Authorization": (await login(client, "fiona"))["Authorization"]}
        ids = []
        for name, model in (("minilm", None), ("tiny", "acme/tiny-bert")):
            body = {"name": name, **({"model_name": model} if model else {})}
            created = await client.post("/api/v2/collections", json=body, headers=headers)
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
            added = await client.post(
                f"/api/v2/collections/{ids[-1]}/sources",
                json={"path": str(folder)},
                headers=headers,
            )
            op = await wait_operation(client, headers, added.json()["operation"]["id"])
            assert op["status"] == "completed", op
        query = {"query": "when does magma erupt from a volcano", "limit": 6}
        alone = []
        for cid in ids:
            one = await client.post(
                f"/api/v2/collections/{cid}/search", json=query, headers=headers
            )
            assert one.status_code == 200, one.text
            alone.append(one.json()["results"])
        found = await client.post(
            "/api/v2/search", json={**query, "collection_ids": ids}, headers=headers
        )

    assert found.status_code == 200, found.text
    federated = found.json()
    assert (federated["warnings"], federated["partial"]) == ([], False)
    assert {r["collection_id"] for r in federated["results"]} == set(ids)
    # Each collection keeps its own order (its own model ranked it) ...
    for cid, single in zip(ids, alone, strict=True):
        merged = [r["chunk_id"] for r in federated["results"] if r["collection_id"] == cid]
        assert merged == [r["chunk_id"] for r in single][: len(merged)]
    # ... and the lists interleave by rank (both firsts, then both seconds), each result
    # showing its collection's own score rather than the rank fusion's 1/(60 + rank).
    own = {r["chunk_id"]: r["score"] for single in alone for r in single}
    scores = [r["score"] for r in federated["results"]]
    assert scores == pytest.approx([own[r["chunk_id"]] for r in federated["results"]])
    assert {r["collection_id"] for r in federated["results"][:2]} == set(ids)
    assert {r["collection_id"] for r in federated["results"][2:4]} == set(ids)
