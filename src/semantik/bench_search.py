"""``semantik bench search``: latency of federated hybrid search, end to end and in-process.

A private embedded Semantik gets ``--collections`` collections of ``--documents``
records each (SciFact-sized by default: 5,183 abstracts of about 200 words), written
as record files and ingested through the real pipeline. Queries then go through HTTP,
the gateway, the bus and the search service; afterwards the same queries run in one
process on the same data (encode the query, query each collection's store, fuse), and
the difference of the medians is the overhead of the services.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from uuid import UUID

from .beir import percentile
from .client import SemantikClient
from .embedded import embedded_system
from .progress import follow_operation
from .session import login

WARMUP = 10
# Syllables of the made-up vocabulary: word frequencies follow Zipf's law, as in text.
_SYLLABLES = "ba be bi bo ka ke ki ko la le li lo ma me mi mo na ne ni no ra re ri ro ta te ti to"


def _vocabulary(size: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    syllables = _SYLLABLES.split()
    words = {"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def write_corpus(path: Path, documents: int, seed: int) -> None:
    """``documents`` records of a title and about 200 words, as JSON lines."""
    rng = random.Random(seed)
    words = _vocabulary(5000, 0)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    with path.open("w", encoding="utf-8") as out:
        for number in range(documents):
            title = " ".join(rng.choices(words, weights, k=10)).capitalize()
            sentences = [
                " ".join(rng.choices(words, weights, k=rng.randint(12, 24))).capitalize() + "."
                for _ in range(rng.randint(8, 12))
            ]
            row = {"_id": f"{seed}-{number}", "title": title, "text": " ".join(sentences)}
            out.write(json.dumps(row) + "\n")


def make_queries(count: int) -> list[str]:
    rng = random.Random(12345)
    words = _vocabulary(5000, 0)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    return [" ".join(rng.choices(words, weights, k=rng.randint(5, 15))) for _ in range(count)]


async def _prepare(
    client: SemantikClient, sources: Path, collections: int, documents: int
) -> list[dict[str, Any]]:
    """The bench's collections, created and ingested unless a kept data dir has them."""
    names = [f"bench-search-{number}" for number in range(1, collections + 1)]
    started = []
    for number, name in enumerate(names, 1):
        if await client.collection_by_name(name) is not None:
            continue
        corpus = sources / f"{name}.jsonl"
        write_corpus(corpus, documents, seed=number)
        collection = await client.call("POST", "/api/v2/collections", json={"name": name})
        body = {"path": str(corpus), "text_columns": ["title", "text"], "id_column": "_id"}
        path = f"/api/v2/collections/{collection['id']}/sources"
        started.append((name, (await client.call("POST", path, json=body))["operation"]))
    # All were started at once, so scanning one overlaps embedding another.
    for name, operation in started:
        outcome, final = await follow_operation(client, operation, name)
        if outcome != "OperationCompleted":
            raise RuntimeError(f"ingesting {name} ended with {outcome}: {final.get('error')}")
    prepared = []
    for name in names:
        found = await client.collection_by_name(name)
        assert found is not None
        prepared.append(found)
    return prepared


async def _through_services(
    client: SemantikClient, ids: list[str], queries: list[str]
) -> list[float]:
    latencies = []
    warmup = len(queries[:WARMUP])
    for number, query in enumerate([*queries[:WARMUP], *queries]):
        body = {"query": query, "collection_ids": ids, "limit": 10, "search_type": "hybrid"}
        started = time.perf_counter()
        response = await client.call("POST", "/api/v2/search", json=body)
        if number >= warmup:
            latencies.append((time.perf_counter() - started) * 1000)
        if response["partial"]:
            raise RuntimeError(f"a collection did not answer: {response['warnings']}")
    return latencies


def _in_process(
    data_dir: Path, generations: list[tuple[Any, str]], queries: list[str]
) -> list[float]:
    """The same searches without services: encode, query each store, fuse."""
    from embedder_service.model import load_model
    from search_service.fusion import RankedList, fuse
    from search_service.retrieval import search_generation
    from semantik_runtime.sparse import query_vector
    from semantik_runtime.vectors.edge import EdgeVectorStore

    model = load_model(device="cpu")
    store = EdgeVectorStore(data_dir / "qdrant")
    try:
        latencies = []
        warmup = len(queries[:WARMUP])
        for number, query in enumerate([*queries[:WARMUP], *queries]):
            started = time.perf_counter()
            dense = model.encode([query])[0]
            sparse = query_vector(query)
            lists = [
                RankedList(cid, search_generation(store, name, "hybrid", dense, sparse, 10))
                for cid, name in generations
            ]
            fuse(lists, 10)
            if number >= warmup:
                latencies.append((time.perf_counter() - started) * 1000)
        return latencies
    finally:
        store.close()


async def _measure(
    url: str, data_dir: Path, args: argparse.Namespace
) -> tuple[list[float], list[tuple[Any, str]]]:
    from semantik_contracts.work import generation_name

    async with SemantikClient(url, timeout=120) as client:
        await login(client, None, None, data_dir)
        prepared = await _prepare(client, data_dir / "sources", args.collections, args.documents)
        ids = [c["id"] for c in prepared]
        latencies = await _through_services(client, ids, make_queries(args.queries))
    generations = [
        (UUID(c["id"]), generation_name(UUID(c["id"]), c["active_generation"])) for c in prepared
    ]
    return latencies, generations


def bench_search(args: argparse.Namespace) -> int:
    import asyncio

    queries = make_queries(args.queries)
    with ExitStack() as stack:
        data_dir: Path = args.data_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        (data_dir / "sources").mkdir(parents=True, exist_ok=True)
        with embedded_system(data_dir, [data_dir / "sources"]) as url:
            latencies, generations = asyncio.run(_measure(url, data_dir, args))
        # The system has stopped, so this process may open its Qdrant Edge shards.
        direct = _in_process(data_dir, generations, queries)
    report = {
        "collections": args.collections,
        "documents_per_collection": args.documents,
        "queries": len(queries),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "direct_p50_ms": round(percentile(direct, 50), 2),
        "direct_p95_ms": round(percentile(direct, 95), 2),
        "overhead_p50_ms": round(percentile(latencies, 50) - percentile(direct, 50), 2),
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"federated hybrid search over {args.collections} collections of "
            f"{args.documents} documents, {len(queries)} queries\n"
            f"  through HTTP, gateway, bus, search: p50 {report['p50_ms']} ms, "
            f"p95 {report['p95_ms']} ms\n"
            f"  in one process:                     p50 {report['direct_p50_ms']} ms, "
            f"p95 {report['direct_p95_ms']} ms\n"
            f"  overhead p50: {report['overhead_p50_ms']} ms",
            file=sys.stdout,
        )
    return 0
