"""AI agents over MCP, and the document endpoint their ``get_document`` reads (SPEC §6,
§13), on one ``semantik run``: the SDK's client drives ``/mcp`` (streamable HTTP) and
``semantik mcp`` (stdio, a subprocess), each with real API keys narrowed by scopes and
collections."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from .conftest import RunningSystem, semantik_run
from .test_walking_skeleton import login, wait_operation

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: Paragraphs long enough for several overlapping chunks at chunk_size 64.
HANDBOOK = "\n\n".join(
    f"## Part {n}\n\nThe lighthouse keeper number {n} polished the great lens every "
    f"evening, logged the passing ships, and wound the clockwork that turned the beam "
    f"across the bay until dawn broke over the harbour wall."
    for n in range(1, 7)
)
RECIPES = "Sourdough bread needs a lively starter, flour, water and a long cold proof."
ROWS = "id,title,text,kind\nr1,Glaciers,Ice flows downhill carving deep valleys.,geo\n"


@dataclass
class World:
    system: RunningSystem
    owner: dict[str, str]
    stranger: dict[str, str]
    handbook: str  # collection ids
    recipes: str
    keys: dict[str, str]  # "all", "recipes only", "search only"


async def _collection(
    client: httpx.AsyncClient, headers: dict[str, str], name: str, source: dict[str, Any]
) -> str:
    body = {"name": name, "chunk_size": 64, "chunk_overlap": 16}
    created = await client.post("/api/v2/collections", json=body, headers=headers)
    assert created.status_code == 201, created.text
    collection_id = str(created.json()["id"])
    added = await client.post(
        f"/api/v2/collections/{collection_id}/sources", json=source, headers=headers
    )
    assert added.status_code == 202, added.text
    op = await wait_operation(client, headers, added.json()["operation"]["id"])
    assert op["status"] == "completed", op
    return collection_id


async def _key(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> str:
    created = await client.post("/api/v1/api-keys", json={"name": "agent", **body}, headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["key"])


async def _setup(system: RunningSystem) -> World:
    handbook_dir, recipes_dir = system.sources / "handbook", system.sources / "recipes"
    handbook_dir.mkdir(parents=True)
    recipes_dir.mkdir(parents=True)
    (handbook_dir / "lighthouse.md").write_text(HANDBOOK)
    (recipes_dir / "bread.txt").write_text(RECIPES)
    (recipes_dir / "rows.csv").write_text(ROWS)
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        owner = await login(client, "ada")
        stranger = await login(client, "eve")
        handbook = await _collection(client, owner, "handbook", {"path": str(handbook_dir)})
        recipes = await _collection(
            client, owner, "recipes", {"path": str(recipes_dir / "bread.txt")}
        )
        rows = {
            "path": str(recipes_dir / "rows.csv"),
            "text_columns": ["title", "text"],
            "context_columns": ["kind"],
            "id_column": "id",
        }
        added = await client.post(
            f"/api/v2/collections/{recipes}/sources", json=rows, headers=owner
        )
        assert added.status_code == 202, added.text
        assert (await wait_operation(client, owner, added.json()["operation"]["id"]))["status"] == (
            "completed"
        )
        keys = {
            "all": await _key(client, owner, scopes=["search", "read"]),
            "recipes only": await _key(
                client, owner, scopes=["search", "read"], collection_ids=[recipes]
            ),
            "search only": await _key(client, owner, scopes=["search"]),
        }
    return World(system, owner, stranger, handbook, recipes, keys)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with semantik_run(tmp_path_factory.mktemp("mcp")) as system:
        yield asyncio.run(_setup(system))


def _http(world: World, key: str | None) -> Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    transport = streamable_http_client(
        f"{world.system.url}/mcp", http_client=httpx2.AsyncClient(headers=headers, timeout=60)
    )
    return Client(transport)


def _stdio(world: World, key: str | None) -> Client:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMANTIK_")}
    env.update(SEMANTIK_URL=world.system.url, SEMANTIK_DATA_DIR=str(world.system.data_dir))
    if key:
        env["SEMANTIK_API_KEY"] = key
    command = str(Path(sys.executable).parent / "semantik")
    return Client(StdioServerParameters(command=command, args=["mcp"], env=env))


async def _call(client: Client, tool: str, **arguments: Any) -> tuple[bool, Any]:
    """Whether the call failed, and its structured answer (or its error text)."""
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        return True, " ".join(getattr(c, "text", "") for c in result.content)
    return False, result.structured_content


async def test_the_document_endpoint_returns_the_text_chunks_and_a_row_s_columns(
    world: World,
) -> None:
    async with httpx.AsyncClient(base_url=world.system.url, timeout=60) as client:
        base = f"/api/v2/collections/{world.handbook}/documents"
        listed = (await client.get(base, headers=world.owner)).json()["items"]
        document_id = listed[0]["id"]
        reply = await client.get(f"{base}/{document_id}", headers=world.owner)
        assert reply.status_code == 200, reply.text
        document = reply.json()
        assert document["path"].endswith("lighthouse.md") and document["status"] == "indexed"
        assert document["file_type"] == "md" and document["size"] == len(HANDBOOK)
        # The overlapping chunks put back together: every word once, in order.
        assert document["text"].split() == HANDBOOK.split()
        spans = document["chunks"]
        assert len(spans) == document["chunk_count"] > 2
        assert [s["index"] for s in spans] == list(range(len(spans)))
        assert spans[0]["start"] == 0 and spans[-1]["end"] == len(document["text"])
        assert all(a["start"] < b["start"] < a["end"] + 2 for a, b in pairwise(spans))

        rows = (
            await client.get(f"/api/v2/collections/{world.recipes}/documents", headers=world.owner)
        ).json()
        row = next(d for d in rows["items"] if "#r1" in d["path"])
        record = (
            await client.get(
                f"/api/v2/collections/{world.recipes}/documents/{row['id']}", headers=world.owner
            )
        ).json()
        assert record["metadata"]["columns"] == {"kind": "geo"}
        assert record["metadata"]["record_id"] == "r1"
        assert "Ice flows downhill" in record["text"]

        one = f"{base}/{document_id}"
        assert (await client.get(one, headers=world.stranger)).status_code == 403
        assert (await client.get(one)).status_code == 401
        restricted = {"Authorization": f"Bearer {world.keys['recipes only']}"}
        refused = await client.get(one, headers=restricted)
        assert refused.status_code == 403 and "not allowed collection" in refused.text
        search_only = {"Authorization": f"Bearer {world.keys['search only']}"}
        assert (await client.get(one, headers=search_only)).status_code == 403
        unknown = await client.get(f"{base}/{uuid4()}", headers=world.owner)
        assert unknown.status_code == 404 and "not found" in unknown.json()["detail"]
        nowhere = f"/api/v2/collections/{uuid4()}/documents/{document_id}"
        assert (await client.get(nowhere, headers=world.owner)).status_code == 404
        for bad in (f"{base}/not-an-id", f"/api/v2/collections/x/documents/{document_id}"):
            assert (await client.get(bad, headers=world.owner)).status_code == 422
        # A document of another collection is not found through this one.
        other = f"/api/v2/collections/{world.recipes}/documents/{document_id}"
        assert (await client.get(other, headers=world.owner)).status_code == 404


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_an_agent_lists_searches_and_reads_within_its_key(
    world: World, transport: str
) -> None:
    connect = _http if transport == "http" else _stdio
    async with connect(world, world.keys["all"]) as agent:
        tools = {tool.name for tool in (await agent.list_tools()).tools}
        assert tools == {"list_collections", "search", "get_document"}
        failed, listed = await _call(agent, "list_collections")
        assert not failed
        assert {c["name"] for c in listed["collections"]} == {"handbook", "recipes"}
        failed, found = await _call(agent, "search", query="who polished the lighthouse lens")
        assert not failed, found
        top = found["results"][0]
        assert top["collection_id"] == world.handbook and "lighthouse" in top["text"]
        assert top["path"].endswith("lighthouse.md") and top["score"] > 0
        failed, document = await _call(
            agent,
            "get_document",
            collection_id=top["collection_id"],
            document_id=top["document_id"],
        )
        assert not failed and document["text"].split() == HANDBOOK.split()
        # A filter key is checked before any search: no payload path of the agent's own.
        wild = ("columns.*", "columns.a[0]", "text", "columns." + "c" * 65, "path_prefix\u2024")
        for key in wild:
            failed, error = await _call(agent, "search", query="lens", filters={key: "x"})
            assert failed and "422" in error and "filter" in error, (key, error)
        failed, found = await _call(
            agent, "search", query="lens", filters={"file_type": "md", "columns.a b.c": "x"}
        )
        assert not failed and found["results"] == []

    async with connect(world, world.keys["recipes only"]) as agent:
        _, listed = await _call(agent, "list_collections")
        assert [c["id"] for c in listed["collections"]] == [world.recipes]
        _, found = await _call(agent, "search", query="who polished the lighthouse lens")
        assert found["results"] and {r["collection_id"] for r in found["results"]} == {
            world.recipes
        }
        failed, error = await _call(
            agent, "search", query="lighthouse", collection_ids=[world.handbook]
        )
        assert failed and "403" in error and "not allowed collection" in error
        failed, error = await _call(
            agent, "get_document", collection_id=world.handbook, document_id=top["document_id"]
        )
        assert failed and "403" in error

    async with connect(world, world.keys["search only"]) as agent:
        failed, found = await _call(agent, "search", query="sourdough starter")
        assert not failed
        bread = [r for r in found["results"] if "Sourdough" in r["text"]]
        assert bread and bread[0]["collection_id"] == world.recipes
        failed, error = await _call(
            agent,
            "get_document",
            collection_id=top["collection_id"],
            document_id=top["document_id"],
        )
        assert failed and "403" in error and "scopes (search)" in error


async def test_mcp_over_http_wants_an_api_key(world: World) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(base_url=world.system.url, timeout=30) as client:
        for headers, why in (
            ({}, "not authenticated"),
            ({"Authorization": world.owner["Authorization"]}, "not a sign-in token"),
            ({"Authorization": "Bearer smk_00000000000000000000000000000000_nope"}, "invalid"),
        ):
            refused = await client.post("/mcp", json=body, headers={**accept, **headers})
            assert refused.status_code == 401, refused.text
            assert why in refused.json()["detail"]
            assert refused.headers["www-authenticate"] == "Bearer"
        # The web UI's routes leave /mcp alone, and its answers carry the security headers.
        answered = await client.get("/mcp", headers={**accept, **world.owner})
        assert answered.status_code == 401 and "content-security-policy" in answered.headers


async def test_semantik_mcp_over_stdio_signs_in_as_the_local_account(world: World) -> None:
    """Without SEMANTIK_API_KEY it is the CLI's local operator account of the data dir."""
    async with _stdio(world, None) as agent:
        failed, listed = await _call(agent, "list_collections")
        assert not failed, listed
        readable = {c["id"] for c in listed["collections"]}
        failed, found = await _call(agent, "search", query="lighthouse keeper")
        assert not failed, found
        assert {r["collection_id"] for r in found["results"]} <= readable


def test_semantik_mcp_refuses_a_revoked_or_wrong_key_on_stderr(world: World) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMANTIK_")}
    env.update(SEMANTIK_URL=world.system.url, SEMANTIK_API_KEY="smk_nope")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "semantik"), "mcp"],
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert "cannot sign in" in done.stderr and "401" in done.stderr
