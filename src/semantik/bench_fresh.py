"""``semantik bench fresh``: freshness of a watched source (SPEC §12), from a file's
write to the search API finding its text (or no longer finding it).

It starts an embedded system of its own, signs in as its operator account, indexes a
small generated corpus as a watched source (``sync: {"watch": true}``) and waits until
its watcher runs and no operation is left. Then, ``--repeats`` times: a new file with a
word of its own (``new_file_s``: until a search finds the word), the same file
rewritten with another word (``changed_file_s``: until the new word is found and the
old one is not), and the file deleted (``deleted_file_s``: until its word is gone).
Searches are ``sparse`` (BM25), which find an exact word; a point is written with its
dense and sparse vectors at once. Printed: the p50 of each over the repeats, and the
largest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from .bench_api import write_documents
from .bench_webhooks import sign_in, wait_operation
from .embedded import embedded_system

#: Seconds a single wait may take before the bench gives up.
WAIT_LIMIT = 120.0


async def until(check: Callable[[], Awaitable[bool]], started: float) -> float:
    """Seconds from ``started`` (time.monotonic()) to ``check`` holding."""
    while not await check():
        if time.monotonic() - started > WAIT_LIMIT:
            raise RuntimeError(f"not reached within {WAIT_LIMIT} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def finds(client: httpx.AsyncClient, collection_id: str, word: str) -> bool:
    reply = await client.post(
        f"/api/v2/collections/{collection_id}/search",
        json={"query": word, "search_type": "sparse", "limit": 3},
    )
    reply.raise_for_status()
    return any(word in hit["text"] for hit in reply.json()["results"])


async def quiet(client: httpx.AsyncClient, collection_id: str) -> None:
    """Until no operation of the collection runs or waits, twice a second apart (the
    watcher's debounce has handed on what it saw)."""
    calm = 0
    while calm < 2:
        page = await client.get(f"/api/v2/operations?collection_id={collection_id}&limit=500")
        page.raise_for_status()
        busy = [op for op in page.json()["items"] if op["status"] in ("pending", "queued")]
        busy += [op for op in page.json()["items"] if op["status"] == "processing"]
        calm = 0 if busy else calm + 1
        await asyncio.sleep(1.0)


async def watched_collection(client: httpx.AsyncClient, folder: Path, documents: int) -> str:
    created = await client.post(
        "/api/v2/collections", json={"name": f"bench-fresh-{os.urandom(3).hex()}"}
    )
    created.raise_for_status()
    collection_id = str(created.json()["id"])
    write_documents(folder, documents)
    added = await client.post(
        f"/api/v2/collections/{collection_id}/sources",
        json={"path": str(folder), "sync": {"watch": True}},
    )
    added.raise_for_status()
    await wait_operation(client, added.json()["operation"]["id"], WAIT_LIMIT)
    source_id = added.json()["source"]["id"]

    async def watching() -> bool:
        listed = await client.get(f"/api/v2/collections/{collection_id}/sources")
        return any(
            s["id"] == source_id and s["sync_status"] == "active" for s in listed.json()["items"]
        )

    await until(watching, time.monotonic())
    await quiet(client, collection_id)
    return collection_id


def write(path: Path, text: str | None) -> None:
    """Write ``text`` to ``path``, or delete it (None): small, so not worth a thread."""
    if text is None:
        path.unlink()
    else:
        path.write_text(text)


async def one_round(
    client: httpx.AsyncClient, collection_id: str, path: Path, n: int
) -> tuple[float, float, float]:
    """Seconds until a new file, then its rewrite, then its deletion show in search."""
    first, second = f"kestrel{n}q{os.urandom(3).hex()}", f"osprey{n}q{os.urandom(3).hex()}"

    async def added() -> bool:
        return await finds(client, collection_id, first)

    async def replaced() -> bool:
        new = await finds(client, collection_id, second)
        return new and not await finds(client, collection_id, first)

    async def gone() -> bool:
        return not await finds(client, collection_id, second)

    started = time.monotonic()
    write(path, f"A note on the {first} seen over the estuary.\n")
    new_s = await until(added, started)
    await quiet(client, collection_id)
    started = time.monotonic()
    write(path, f"A note on the {second} seen over the estuary.\n")
    changed_s = await until(replaced, started)
    await quiet(client, collection_id)
    started = time.monotonic()
    write(path, None)
    deleted_s = await until(gone, started)
    await quiet(client, collection_id)
    return new_s, changed_s, deleted_s


async def measure(
    client: httpx.AsyncClient, folder: Path, documents: int, repeats: int
) -> dict[str, Any]:
    collection_id = await watched_collection(client, folder, documents)
    names = ("new_file_s", "changed_file_s", "deleted_file_s")
    rounds = [
        await one_round(client, collection_id, folder / f"fresh-{n}.md", n) for n in range(repeats)
    ]
    result: dict[str, Any] = {
        name: round(statistics.median(r[k] for r in rounds), 3) for k, name in enumerate(names)
    }
    result["max_s"] = {name: round(max(r[k] for r in rounds), 3) for k, name in enumerate(names)}
    result["repeats"] = repeats
    result["documents"] = documents
    return result


async def _run(url: str, data_dir: Path, documents: int, repeats: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await sign_in(client, data_dir)
        folder = data_dir / "sources" / "bench-fresh"
        return await measure(client, folder, documents, repeats)


def bench_fresh(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="semantik-bench-fresh-") as directory:
        data_dir = Path(directory)
        sources = data_dir / "sources"
        sources.mkdir(parents=True)
        with embedded_system(data_dir, [sources]) as url:
            return asyncio.run(_run(url, data_dir, args.documents, args.repeats))
