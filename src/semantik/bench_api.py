"""``semantik bench api``: requests/s and latency of the gateway under concurrent clients.

Against a running Semantik: it signs in (the local operator account, or --username), indexes a
collection of generated documents once (found again by name on later runs), then runs
each workload with ``clients`` concurrent clients for ``seconds`` and reports
requests/s, p50 and p95 of the answers. Workloads: ``GET /api/v2/collections`` and a
search of that one collection. Run the system with ``SEARCH_RATE_LIMIT_PER_MINUTE=0``,
or the search workload measures the rate limit (429s are counted as errors).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

COLLECTION = "bench-api"
TOPICS = (
    "event sourcing keeps every change as an event in an append-only log",
    "a vector database answers nearest neighbour queries over embeddings",
    "JetStream streams retain messages and replay them to durable consumers",
    "token buckets limit how many requests a client may send per minute",
    "hybrid search fuses dense and sparse rankings with reciprocal rank fusion",
    "blue green deployments switch traffic atomically between two versions",
    "a write-ahead log lets a database recover after a crash",
    "Prometheus scrapes metrics and evaluates alerting rules",
)
QUERIES = (
    "how are changes recorded",
    "nearest neighbour search",
    "replay messages after a restart",
    "rate limiting clients",
    "combine keyword and semantic ranking",
    "switch versions without downtime",
    "crash recovery",
    "alerting on metrics",
)

Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def write_documents(directory: Path, count: int) -> None:
    """``count`` small documents mixing the topics, so that searches find something."""
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        lines = [f"# Note {n}"]
        for k in range(6):
            lines.append(f"{TOPICS[(n + k) % len(TOPICS)].capitalize()} (note {n}, part {k}).")
        (directory / f"note-{n:04d}.md").write_text("\n\n".join(lines) + "\n")


async def prepare(
    client: httpx.AsyncClient, sources: Path, documents: int, timeout: float = 600.0
) -> str:
    """The id of the benchmark's collection, indexed (made on the first run)."""
    listed = (await client.get("/api/v2/collections", params={"limit": 500})).json()
    for collection in listed["items"]:
        if collection["name"] == COLLECTION:
            return str(collection["id"])
    created = await client.post("/api/v2/collections", json={"name": COLLECTION})
    created.raise_for_status()
    collection_id = str(created.json()["id"])
    if documents:
        write_documents(sources, documents)
        added = await client.post(
            f"/api/v2/collections/{collection_id}/sources", json={"path": str(sources)}
        )
        added.raise_for_status()
        operation = f"/api/v2/operations/{added.json()['operation']['id']}"
        async with asyncio.timeout(timeout):
            while (await client.get(operation)).json()["status"] not in (  # noqa: ASYNC110 - polling the API as a client does
                "completed",
                "failed",
                "cancelled",
            ):
                await asyncio.sleep(0.5)
    return collection_id


async def load(
    client: httpx.AsyncClient, request: Request, clients: int, seconds: float
) -> dict[str, Any]:
    """Run ``request`` from ``clients`` concurrent loops for ``seconds``."""
    latencies: list[float] = []
    errors: dict[str, int] = {}  # HTTP status or exception → count
    counter = itertools.count()
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                reply = await request(client, next(counter))
                outcome = str(reply.status_code)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            if outcome == "200":
                latencies.append(time.perf_counter() - started)
            else:
                errors[outcome] = errors.get(outcome, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    return {
        "requests": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 1),
    }


async def bench_api(
    client: httpx.AsyncClient,
    sources: Path,
    *,
    clients: int = 50,
    seconds: float = 60.0,
    documents: int = 200,
) -> dict[str, Any]:
    """Both workloads against the gateway ``client`` talks to (signed in already)."""
    collection_id = await prepare(client, sources, documents)

    async def list_collections(http: httpx.AsyncClient, _: int) -> httpx.Response:
        return await http.get("/api/v2/collections")

    async def search(http: httpx.AsyncClient, n: int) -> httpx.Response:
        body = {"query": QUERIES[n % len(QUERIES)], "limit": 10}
        return await http.post(f"/api/v2/collections/{collection_id}/search", json=body)

    return {
        "clients": clients,
        "seconds": seconds,
        "list_collections": await load(client, list_collections, clients, seconds),
        "search": await load(client, search, clients, seconds),
    }
