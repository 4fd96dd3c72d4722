"""``semantik bench columns``: switching a source between two saved column sets, from the
request to search serving the new rows (seed 002 US3: target 3 s).

It starts an embedded system of its own, signs in as its operator account, saves two
column sets (``a``: ``title`` embedded, ``city`` as context; ``b``: ``body`` embedded,
``team`` as context) and indexes a small CSV of ``--rows`` rows with set ``a``. Then,
``--repeats`` times, it applies the other set (``POST …/sources/reembed``) and searches
every 50 ms until a full page of results carries only the new set's context column:
that is ``switch_s``. ``operation_s`` is when the re-embed's operation completed. The
re-embed is staged (a blue-green reindex of the collection): search switches from all
old rows to all new ones at once, when the operation completes.
Printed: ``{"rows", "repeats", "switch_p50_s", "switch_max_s", "operation_p50_s"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from .bench_webhooks import percentile, sign_in, wait_operation
from .embedded import embedded_system

SETS: dict[str, dict[str, Any]] = {
    "a": {"name": "a", "text_columns": ["title"], "context_columns": ["city"]},
    "b": {"name": "b", "text_columns": ["body"], "context_columns": ["team"]},
}
TOPICS = ("billing", "login", "export", "latency", "pricing", "backup", "search", "mobile")
QUERY = "ticket about billing login export"
PAGE = 10


def write_rows(path: Path, rows: int) -> None:
    """``rows`` tickets whose title and body both name topics, so both sets find rows."""
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "title", "body", "city", "team"])
        for n in range(rows):
            topic, other = TOPICS[n % len(TOPICS)], TOPICS[(n + 3) % len(TOPICS)]
            out.writerow(
                [
                    n,
                    f"Ticket {n} about {topic}",
                    f"The customer of ticket {n} reports {topic} and {other} trouble",
                    f"city-{n % 5}",
                    f"team-{n % 3}",
                ]
            )


async def serving(client: httpx.AsyncClient, collection_id: str, context: str) -> bool:
    """Whether a full page of results carries ``context`` and only it as context."""
    reply = await client.post(
        f"/api/v2/collections/{collection_id}/search", json={"query": QUERY, "limit": PAGE}
    )
    reply.raise_for_status()
    results = reply.json()["results"]
    return len(results) == PAGE and all(
        set((r.get("metadata") or {}).get("columns") or {}) == {context} for r in results
    )


async def switch(
    client: httpx.AsyncClient, base: str, source_id: str, name: str, timeout: float
) -> tuple[float, float]:
    """Apply set ``name``: seconds until search serves its rows, and until its operation
    completed."""
    context = SETS[name]["context_columns"][0]
    started = time.monotonic()
    reply = await client.post(
        f"{base}/sources/reembed", json={"source_ids": [source_id], "column_set": name}
    )
    reply.raise_for_status()
    operation_id = reply.json()["operation"]["id"]
    waiting = asyncio.ensure_future(wait_operation(client, operation_id, timeout))
    collection_id = base.rsplit("/", 1)[1]
    while not await serving(client, collection_id, context):
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"search did not serve set {name!r} within {timeout} s")
        await asyncio.sleep(0.05)
    served = time.monotonic() - started
    status = await waiting
    if status != "completed":
        raise RuntimeError(f"the re-embed with set {name!r} ended {status}")
    return served, time.monotonic() - started


async def measure(
    client: httpx.AsyncClient, folder: Path, rows: int, repeats: int, timeout: float = 300.0
) -> dict[str, Any]:
    created = await client.post("/api/v2/collections", json={"name": "bench-columns"})
    created.raise_for_status()
    base = f"/api/v2/collections/{created.json()['id']}"
    for body in SETS.values():
        (await client.post(f"{base}/column-sets", json=body)).raise_for_status()
    table = folder / "tickets.csv"
    write_rows(table, rows)
    first = {k: v for k, v in SETS["a"].items() if k != "name"}
    added = await client.post(f"{base}/sources", json={"path": str(table), **first})
    added.raise_for_status()
    status = await wait_operation(client, added.json()["operation"]["id"], timeout)
    if status != "completed":
        raise RuntimeError(f"the first index ended {status}")
    source_id = added.json()["source"]["id"]
    switches, operations = [], []
    for repeat in range(repeats):
        served, done = await switch(client, base, source_id, "ba"[repeat % 2], timeout)
        switches.append(served)
        operations.append(done)
    switches.sort()
    operations.sort()
    return {
        "rows": rows,
        "repeats": repeats,
        "switch_p50_s": round(percentile(switches, 0.5), 3),
        "switch_max_s": round(switches[-1], 3),
        "operation_p50_s": round(percentile(operations, 0.5), 3),
    }


async def _run(url: str, data_dir: Path, rows: int, repeats: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await sign_in(client, data_dir)
        return await measure(client, data_dir / "sources", rows, repeats)


def bench_columns(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="semantik-bench-columns-") as directory:
        data_dir = Path(directory)
        sources = data_dir / "sources"
        sources.mkdir(parents=True)
        with embedded_system(data_dir, [sources]) as url:
            return asyncio.run(_run(url, data_dir, args.rows, args.repeats))
