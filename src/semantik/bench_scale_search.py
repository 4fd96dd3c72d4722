"""``semantik bench scale``'s search and ingest parts: collections of a chosen size,
written straight into their shards (encoding a million chunks would take about eleven
hours on the two cores we measure on, at 26 chunks/s), searched through the services;
and ingest with one embedder lane, then two.

Each point is what the embedder writes (``embedder_service.jobs.points_of``): a dense
vector, a BM25 vector and the payload search returns. The texts are made-up chunks of
about 120 words of ``bench search``'s Zipf-distributed vocabulary, 2,000 of them reused
round-robin, each with its real BM25 vector (``document_vector``), so that the sparse
half of a hybrid query finds as many candidates as text would give it. The dense vectors
are random unit vectors (normal, normalised), not the model's: HNSW's hardest case, as
they fill all 384 dimensions where text's embeddings crowd a few directions. The shard
is then optimised (segments merged, HNSW built), as the embedder does once a
generation's writes are quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID, uuid4

import numpy as np
from semantik_runtime.sparse import document_vector
from semantik_runtime.vectors import Point, SparseVector
from semantik_runtime.vectors.edge import EdgeVectorStore

from .bench_scale import say, store_bytes
from .bench_search import _vocabulary

if TYPE_CHECKING:
    from .client import Collection, SemantikClient

T = TypeVar("T")

#: Distinct chunk texts (and BM25 vectors) the points take in turn.
TEXTS = 2000
#: Words of each text (a chunk of the default model is up to 256 tokens).
WORDS = 120
#: Points upserted at a time.
BATCH = 5000


def chunk_texts(count: int, seed: int = 11) -> list[str]:
    """``count`` made-up chunks in the vocabulary ``bench search``'s queries use."""
    rng = random.Random(seed)
    words = _vocabulary(5000, 0)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    return [" ".join(rng.choices(words, weights, k=WORDS)).capitalize() + "." for _ in range(count)]


def fill_generation(root: Path, name: str, collection_id: UUID, dimension: int, count: int) -> int:
    """Write ``count`` synthetic points into generation ``name`` of the shards under
    ``root`` (no process may have them open), build its index; return its point count."""
    texts = chunk_texts(TEXTS)
    sparse = [document_vector(text) for text in texts]
    rng = np.random.default_rng(7)
    store = EdgeVectorStore(root)
    try:
        store.create_generation(name, dimension)
        for first in range(0, count, BATCH):
            size = min(BATCH, count - first)
            dense = rng.standard_normal((size, dimension), dtype=np.float32)
            dense /= np.linalg.norm(dense, axis=1, keepdims=True)
            points = []
            for k in range(size):
                number = first + k
                text = number % TEXTS
                vector = sparse[text]
                points.append(
                    Point(
                        id=str(UUID(int=(collection_id.int ^ number))),
                        dense=dense[k],
                        sparse=SparseVector(vector.indices, vector.values),
                        payload={
                            "document_id": str(UUID(int=collection_id.int ^ (number // 4 << 64))),
                            "collection_id": str(collection_id),
                            "chunk_index": number % 4,
                            "path": f"/synthetic/doc-{number // 4}.md",
                            "file_type": "md",
                            "mime": "text/markdown",
                            "text": texts[text],
                        },
                    )
                )
            store.upsert(name, points)
        store.optimize(name)
        return store.count(name)
    finally:
        store.close()


#: Under a kept ``--data-dir``: one empty file per collection filled whole (named by
#: its id), so that a rerun measures it again instead of filling it twice.
FILLED = "bench-scale-filled"


async def _timed_ingest(client: SemantikClient, folder: Path) -> float:
    """Chunks/s of ``folder`` ingested into a new collection (a name of its own: a kept
    data dir keeps the collections of earlier runs)."""
    from .bench_ingest import _finish

    collection = await client.create_collection(f"scale-ingest-{uuid4().hex[:8]}")
    began = time.perf_counter()
    added = await client.add_source(collection.id, folder)
    done = await _finish(client, added.operation.id)
    return done.processed / (time.perf_counter() - began)


async def _ingest_then(
    url: str,
    data_dir: Path,
    folder: Path | None,
    then: Callable[[SemantikClient], Awaitable[T]],
) -> tuple[float | None, T]:
    """Signed in to the system at ``url``: the chunks/s of ``folder`` ingested into a
    new collection (None without a folder), and what ``then`` gives after it."""
    from .client import SemantikClient
    from .session import own_system_login

    async with SemantikClient(url, timeout=120) as client:
        await own_system_login(client, data_dir)
        rate = None if folder is None else await _timed_ingest(client, folder)
        return rate, await then(client)


async def search_collections(
    client: SemantikClient, data_dir: Path, sizes: list[int]
) -> list[tuple[Collection, bool]]:
    """The collection of each size, and whether it is filled already: one a kept data
    dir holds whole (``FILLED``) is measured again as it is; else it is made (or, left
    half-filled by a stopped run, found) and filled."""
    found = []
    for size in sizes:
        name = f"scale-search-{size}"
        collection = await client.collection_by_name(name)
        if collection is not None and (data_dir / FILLED / str(collection.id)).exists():
            found.append((collection, True))
        else:
            found.append((collection or await client.create_collection(name), False))
    return found


def counted(root: Path, name: str) -> int:
    """The points of generation ``name`` of the shards under ``root`` (no process may
    have them open)."""
    store = EdgeVectorStore(root)
    try:
        return store.count(name)
    finally:
        store.close()


async def _latencies(
    client: SemantikClient,
    url: str,
    made: list[Collection],
    queries: list[str],
    warm_up: list[str],
) -> list[list[float]]:
    """Milliseconds of each hybrid search of each collection alone, after the searches
    of ``warm_up`` (other queries than the measured ones)."""
    from .bench_search import ThroughServices

    served_by = ThroughServices(client, url, {})
    try:
        latencies = []
        for collection in made:
            ids = [str(collection.id)]
            for query in warm_up:
                await served_by.search(ids, query)
            latencies.append([await served_by.search(ids, query) for query in queries])
        return latencies
    finally:
        served_by.close()


def measure_search_and_ingest(
    sizes: list[int],
    lanes: tuple[str, str],
    documents: int,
    queries: int,
    kept: Path | None = None,
    warm_up: int = 400,
) -> dict[str, Any]:
    """Ingest with ``lanes[0]`` lanes, fill the search collections, then ingest with
    ``lanes[1]`` lanes and search each collection: two starts of the system. No ingest
    with ``documents`` 0; in a ``kept`` data dir the collections filled by an earlier
    run are searched again as they are (a million points take most of an hour to write
    and index on 2 cores). Each collection is searched ``warm_up`` times with other
    queries before the measured ones: a process that has just opened a million points
    answered its first 200 searches at a p95 of 78 ms, the next 400 at 42-43 ms (with
    200 warm-up searches the measured p95 was 50.6 ms, with 400 42.5)."""
    from semantik_contracts.search import DEFAULT_MODEL
    from semantik_contracts.work import generation_name

    from .beir import percentile
    from .bench_ingest import running_semantik, write_corpus
    from .bench_search import make_queries

    with contextlib.ExitStack() as stack:
        if kept is None:
            data_dir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="semantik-bench-scale-"))
            )
        else:
            data_dir = kept.resolve()
            (data_dir / "sources").mkdir(parents=True, exist_ok=True)
        folder = None
        if documents:
            folder = data_dir / "sources" / f"corpus-{documents}"
            write_corpus(folder, documents, 170)
        with running_semantik(data_dir, SEMANTIK_EMBED_LANES=lanes[0]) as url:

            async def collections(client: SemantikClient) -> list[tuple[Collection, bool]]:
                return await search_collections(client, data_dir, sizes)

            one, made = asyncio.run(_ingest_then(url, data_dir, folder, collections))
        if one is not None:
            say(f"ingest with {lanes[0]} lane(s): {one:.1f} chunks/s")
        counts = []
        (data_dir / FILLED).mkdir(exist_ok=True)
        for (collection, filled), size in zip(made, sizes, strict=True):
            name = generation_name(collection.id, collection.active_generation or 1)
            if filled:
                counts.append(counted(data_dir / "qdrant", name))
                continue
            say(f"writing {size} points into {collection.name}")
            counts.append(
                fill_generation(
                    data_dir / "qdrant", name, collection.id, DEFAULT_MODEL.dimension, size
                )
            )
            (data_dir / FILLED / str(collection.id)).touch()
        say(f"collections of {counts} chunks, HNSW built")
        texts = make_queries(queries + warm_up)
        # Its searches one after another as fast as they answer: the per-user search
        # limit (60 at once, then by the minute) would refuse them with 429 otherwise.
        unlimited = {"SEARCH_RATE_LIMIT_PER_MINUTE": "0"}
        with running_semantik(data_dir, SEMANTIK_EMBED_LANES=lanes[1], **unlimited) as url:

            async def searches(client: SemantikClient) -> list[list[float]]:
                searched = [c for c, _ in made]
                measured, warm_up_texts = texts[:queries], texts[queries:]
                return await _latencies(client, url, searched, measured, warm_up_texts)

            two, latencies = asyncio.run(_ingest_then(url, data_dir, folder, searches))
        report: dict[str, Any] = {
            "search_chunks": counts,
            "search_p50_ms": [round(percentile(ms, 50), 2) for ms in latencies],
            "search_p95_ms": [round(percentile(ms, 95), 2) for ms in latencies],
        }
        if one is not None and two is not None:
            ingest_bytes = store_bytes(data_dir, "ingest")
            stream = data_dir / "nats"  # the files of SEMANTIK_EVENTS, in each account's dir
            stream_bytes = sum(
                f.stat().st_size for f in stream.rglob("*") if "SEMANTIK_EVENTS" in f.parts
            )
            # Its documents were ingested twice, into two collections: two records each.
            report.update(
                ingest_chunks_per_s=[round(one, 2), round(two, 2)],
                ingest_store_bytes_per_document=round(ingest_bytes / (2 * documents)),
                events_stream_bytes_per_document=round(stream_bytes / (2 * documents)),
            )
    return report
