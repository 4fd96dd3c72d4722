"""``semantik bench mcp``: the latency of the MCP ``search`` tool over streamable HTTP
(``/mcp``) against the REST search it wraps (``POST /api/v2/search``), on the same
embedded system, collection, API key and queries (SPEC §13).

It starts an embedded system of its own, signs in as its operator account, indexes a
collection of generated documents (``bench api``'s), makes an API key, then sends each
query both ways, one after the other and in alternating order, after a warm-up. The MCP
client keeps one session (the SDK's ``Client``), as an agent does. Printed:
``{"queries", "rest_p50_ms", "rest_p95_ms", "mcp_p50_ms", "mcp_p95_ms"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .bench_api import QUERIES, prepare
from .bench_webhooks import percentile, sign_in
from .embedded import embedded_system

WARM_UP = 10


async def _measure(url: str, data_dir: Path, documents: int, queries: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as account:
        await sign_in(account, data_dir)
        collection_id = await prepare(account, data_dir / "sources" / "bench-mcp", documents)
        made = await account.post("/api/v1/api-keys", json={"name": "bench", "scopes": ["search"]})
        made.raise_for_status()
        key = str(made.json()["key"])
    bearer = {"Authorization": f"Bearer {key}"}
    mcp_http = httpx2.AsyncClient(headers=bearer, timeout=60)
    async with (
        httpx.AsyncClient(base_url=url, timeout=60, headers=bearer) as rest,
        Client(streamable_http_client(f"{url}/mcp", http_client=mcp_http)) as agent,
    ):

        async def over_rest(query: str) -> float:
            body = {"query": query, "collection_ids": [collection_id], "limit": 10}
            started = time.perf_counter()
            answer = await rest.post("/api/v2/search", json=body)
            elapsed = time.perf_counter() - started
            answer.raise_for_status()
            return elapsed * 1000

        async def over_mcp(query: str) -> float:
            arguments = {"query": query, "collection_ids": [collection_id], "limit": 10}
            started = time.perf_counter()
            result = await agent.call_tool("search", arguments)
            elapsed = time.perf_counter() - started
            if result.is_error:
                raise RuntimeError(f"the MCP search failed: {result.content}")
            return elapsed * 1000

        for n in range(WARM_UP):
            await over_rest(QUERIES[n % len(QUERIES)])
            await over_mcp(QUERIES[n % len(QUERIES)])
        rest_ms: list[float] = []
        mcp_ms: list[float] = []
        for n in range(queries):
            query = f"{QUERIES[n % len(QUERIES)]} {n}"  # no two alike: nothing cached
            if n % 2:
                rest_ms.append(await over_rest(query))
                mcp_ms.append(await over_mcp(query))
            else:
                mcp_ms.append(await over_mcp(query))
                rest_ms.append(await over_rest(query))
    rest_ms.sort()
    mcp_ms.sort()
    return {
        "queries": queries,
        "documents": documents,
        "rest_p50_ms": round(percentile(rest_ms, 0.5), 2),
        "rest_p95_ms": round(percentile(rest_ms, 0.95), 2),
        "mcp_p50_ms": round(percentile(mcp_ms, 0.5), 2),
        "mcp_p95_ms": round(percentile(mcp_ms, 0.95), 2),
    }


def bench_mcp(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="semantik-bench-mcp-") as directory:
        data_dir = Path(directory)
        sources = data_dir / "sources"
        sources.mkdir(parents=True)
        with embedded_system(data_dir, [sources]) as url:
            return asyncio.run(_measure(url, data_dir, args.documents, args.queries))
