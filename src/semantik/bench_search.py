"""``semantik bench search``: latency of federated hybrid search, end to end and in-process.

A private embedded Semantik gets ``--collections`` collections, each holding the corpus
of the BEIR directory ``--beir`` (SciFact: 5,183 abstracts; its first ``--documents``
if given), or else ``--documents`` made-up records of about 200 words (5,183 unless
given), ingested through the real pipeline; a kept ``--data-dir`` reuses what an
earlier run ingested, and the report says how large the collections are. Queries then
go through HTTP, the gateway, the bus and the search service; afterwards the same
queries run in one process on the same data (encode the query, query each collection's
store, fuse), and the difference of the medians is the overhead of the services.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from contextlib import ExitStack
from itertools import islice
from pathlib import Path
from typing import Any
from uuid import UUID

from .beir import percentile
from .client import SemantikClient
from .embedded import embedded_system
from .progress import ingest_records
from .session import login

WARMUP = 10
#: Records of a made-up collection unless ``--documents`` says: SciFact's corpus size.
SCIFACT_SIZE = 5183
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


def _corpus(args: argparse.Namespace) -> str:
    """What the collections hold, as their names and the report say it."""
    if args.beir is None:
        return f"synthetic-{args.documents or SCIFACT_SIZE}"
    name = Path(args.beir).resolve().name
    return name if args.documents is None else f"{name}-{args.documents}"


def _records(sources: Path, number: int, args: argparse.Namespace) -> Path:
    """Collection ``number``'s record file: the BEIR corpus given (its first
    ``--documents`` records, if given), else ``--documents`` made-up records."""
    if args.beir is not None:
        corpus = Path(args.beir).resolve() / "corpus.jsonl"
        if args.documents is None:
            return corpus
        part = sources / f"{_corpus(args)}.jsonl"
        if not part.exists():
            with corpus.open(encoding="utf-8") as rows:
                part.write_text("".join(islice(rows, args.documents)), encoding="utf-8")
        return part
    records = sources / f"{_corpus(args)}-{number}.jsonl"
    if not records.exists():
        write_corpus(records, args.documents or SCIFACT_SIZE, seed=number)
    return records


async def _prepare(
    client: SemantikClient, sources: Path, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """The bench's collections, each ingested unless a kept data dir has it already
    (named after what they hold, so other corpora in the same data dir stay apart)."""
    prepared = []
    for number in range(1, args.collections + 1):
        name = f"bench-search-{_corpus(args)}-{number}"
        found = await client.collection_by_name(name)
        # Whole and idle in a kept data dir: measured as it is, without scanning again.
        if found is None or found["active_operation_id"] or not found["document_count"]:
            records = _records(sources, number, args)
            found = await ingest_records(client, name, records, f"ingesting {name}")
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
    """The same searches without services: encode (on a query thread, as the embedder
    does), query each collection's store, fuse, read the results' payloads."""
    from embedder_service.model import load_model
    from embedder_service.queries import query_thread
    from search_service.fusion import RankedList, fuse
    from search_service.retrieval import search_generation, with_payloads
    from semantik_runtime.sparse import query_vector
    from semantik_runtime.vectors.edge import EdgeVectorStore

    model = load_model(device="cpu")
    store = EdgeVectorStore(data_dir / "qdrant")
    try:
        with query_thread() as encoder:
            latencies = []
            warmup = len(queries[:WARMUP])
            for number, query in enumerate([*queries[:WARMUP], *queries]):
                started = time.perf_counter()
                dense = encoder.submit(model.encode, [query]).result()[0]
                sparse = query_vector(query)
                lists = [
                    RankedList(cid, search_generation(store, name, "hybrid", dense, sparse, 10))
                    for cid, name in generations
                ]
                with_payloads(store, fuse(lists, 10), dict(generations))
                if number >= warmup:
                    latencies.append((time.perf_counter() - started) * 1000)
        return latencies
    finally:
        store.close()


async def _measure(
    url: str, data_dir: Path, args: argparse.Namespace, queries: list[str]
) -> tuple[list[float], list[dict[str, Any]]]:
    async with SemantikClient(url, timeout=120) as client:
        await login(client, None, None, data_dir)
        prepared = await _prepare(client, data_dir / "sources", args)
        latencies = await _through_services(client, [c["id"] for c in prepared], queries)
    return latencies, prepared


def _queries(args: argparse.Namespace) -> list[str]:
    """The first ``--queries`` queries of the BEIR data set given, else made-up ones."""
    if args.beir is None:
        return make_queries(args.queries)
    texts = []
    with (Path(args.beir) / "queries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                texts.append(str(json.loads(line)["text"]))
            if len(texts) == args.queries:
                break
    return texts


def bench_search(args: argparse.Namespace) -> int:
    import asyncio

    from semantik_contracts.work import generation_name

    if args.beir is not None and not (Path(args.beir) / "corpus.jsonl").is_file():
        print(f"error: {args.beir} holds no corpus.jsonl", file=sys.stderr)
        return 2
    queries = _queries(args)
    with ExitStack() as stack:
        data_dir: Path = args.data_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sources = data_dir / "sources"
        sources.mkdir(parents=True, exist_ok=True)
        roots = [sources] if args.beir is None else [sources, Path(args.beir)]
        with embedded_system(data_dir, roots) as url:
            latencies, prepared = asyncio.run(_measure(url, data_dir, args, queries))
        generations = [
            (UUID(c["id"]), generation_name(UUID(c["id"]), c["active_generation"]))
            for c in prepared
        ]
        # The system has stopped, so this process may open its Qdrant Edge shards.
        direct = _in_process(data_dir, generations, queries)
    documents = [c["document_count"] for c in prepared]
    chunks = [c["chunk_count"] for c in prepared]
    report = {
        "collections": len(prepared),
        "corpus": _corpus(args),
        "documents_per_collection": documents,
        "chunks_per_collection": chunks,
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
            f"federated hybrid search over {len(prepared)} collections ({report['corpus']}): "
            f"{sum(documents)} documents, {sum(chunks)} chunks in all; {len(queries)} queries\n"
            f"  through HTTP, gateway, bus, search: p50 {report['p50_ms']} ms, "
            f"p95 {report['p95_ms']} ms\n"
            f"  in one process:                     p50 {report['direct_p50_ms']} ms, "
            f"p95 {report['direct_p95_ms']} ms\n"
            f"  overhead p50: {report['overhead_p50_ms']} ms",
            file=sys.stdout,
        )
    return 0
