"""``semantik eval DIR``: retrieval quality and query latency on a BEIR-format data set.

The corpus goes through the real pipeline (gateway, collections, ingest, embedder) as a
record source (id column ``_id``, text columns ``title`` and ``text``); every judged
query of the split is then searched over HTTP in each mode, one at a time, and the
ranking is scored against the judgements. Without ``--url`` the command runs a private
embedded Semantik of its own and stops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .beir import Dataset, DatasetError, load_dataset, mrr_at, ndcg_at, percentile, recall_at
from .client import ApiError, SearchResponse, SearchResult, SemantikClient
from .embedded import embedded_system
from .progress import IngestFailed, ingest_records
from .session import login, own_system_login

MODES = ("dense", "sparse", "hybrid")
#: Queries searched before timing starts (model and caches warm).
WARMUP = 5


def choose_split(directory: Path, asked: str | None) -> str:
    """The split asked for, else ``test`` if present, else the data set's only split."""
    if asked:
        return asked
    splits = sorted(p.stem for p in (directory / "qrels").glob("*.tsv"))
    if "test" in splits or len(splits) != 1:
        return "test"
    return splits[0]


async def evaluate(args: argparse.Namespace) -> int:
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = sorted(set(modes) - set(MODES))
    if unknown or not modes:
        print(
            f"error: unknown mode(s) {', '.join(unknown)}; use {','.join(MODES)}", file=sys.stderr
        )
        return 2
    directory: Path = args.directory
    try:
        dataset = load_dataset(directory, choose_split(directory, args.split))
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        url, data_dir = args.url, args.data_dir
        if url is None:
            if data_dir is None:
                data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            print(f"starting an embedded Semantik in {data_dir} …", file=sys.stderr)
            url = stack.enter_context(embedded_system(data_dir, [dataset.corpus.parent]))
        elif data_dir is None:
            data_dir = Path(".semantik")
        report = await _run(url, data_dir, args, dataset, modes, own=args.url is None)
    if report is None:
        return 1
    if args.json:
        print(json.dumps(report))
    else:
        print(_table(report))
    return 0


async def _run(
    url: str,
    data_dir: Path,
    args: argparse.Namespace,
    dataset: Dataset,
    modes: list[str],
    own: bool,
) -> dict[str, Any] | None:
    async with SemantikClient(url, timeout=120) as client:
        if own:
            await own_system_login(client, data_dir)
        else:
            await login(client, args.username, args.password, data_dir)
        collection_id = await _ingest(client, dataset)
        if collection_id is None:
            return None
        results = {mode: await _measure(client, collection_id, dataset, mode) for mode in modes}
    return {
        "dataset": dataset.name,
        "split": dataset.split,
        "queries": len(dataset.queries),
        "modes": results,
    }


async def _ingest(client: SemantikClient, dataset: Dataset) -> str | None:
    try:
        collection = await ingest_records(
            client, f"eval-{dataset.name}", dataset.corpus, f"ingesting {dataset.name}"
        )
    except IngestFailed as exc:
        print(f"error: ingesting the corpus {exc}", file=sys.stderr)
        return None
    return str(collection.id)


async def _measure(
    client: SemantikClient, collection_id: str, dataset: Dataset, mode: str
) -> dict[str, float]:
    queries = list(dataset.queries.items())
    for _, text in queries[:WARMUP]:
        await _search(client, collection_id, text, mode)
    ndcg, recall, mrr, latencies = [], [], [], []
    for query_id, text in queries:
        response, took = await _search(client, collection_id, text, mode)
        latencies.append(took)
        ranked = [_record_id(hit) for hit in response.results]
        judged = dataset.qrels[query_id]
        ndcg.append(ndcg_at(ranked, judged, 10))
        recall.append(recall_at(ranked, judged, 100))
        mrr.append(mrr_at(ranked, judged, 10))
    count = len(queries)
    return {
        "ndcg@10": round(sum(ndcg) / count, 4),
        "recall@100": round(sum(recall) / count, 4),
        "mrr@10": round(sum(mrr) / count, 4),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
    }


async def _search(
    client: SemantikClient, collection_id: str, query: str, mode: str
) -> tuple[SearchResponse, float]:
    """One search and its latency in ms; a rate-limited one (429) waits and is retried,
    and the wait is not counted."""
    while True:
        started = time.perf_counter()
        try:
            response = await client.search(query, collection_id, limit=100, search_type=mode)
        except ApiError as exc:
            if exc.status != 429:
                raise
            await asyncio.sleep(1.0)
            continue
        return response, (time.perf_counter() - started) * 1000


def _record_id(hit: SearchResult) -> str:
    return str(hit.metadata.get("record_id", hit.document_id))


def _table(report: dict[str, Any]) -> str:
    lines = [
        f"{report['dataset']} ({report['split']} split, {report['queries']} queries)",
        f"{'mode':<8}{'NDCG@10':>9}{'Recall@100':>12}{'MRR@10':>9}{'p50 ms':>9}{'p95 ms':>9}",
    ]
    for mode, m in report["modes"].items():
        lines.append(
            f"{mode:<8}{m['ndcg@10']:>9.4f}{m['recall@100']:>12.4f}{m['mrr@10']:>9.4f}"
            f"{m['p50_ms']:>9.1f}{m['p95_ms']:>9.1f}"
        )
    return "\n".join(lines)
