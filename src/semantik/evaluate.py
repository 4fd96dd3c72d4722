"""``semantik eval DIR``: retrieval quality and query latency on a BEIR-format data set.

The corpus goes through the real pipeline (gateway, collections, ingest, embedder) as a
record source (id column ``_id``, text columns ``title`` and ``text``), or with
``--as-files DIR`` as a directory of Markdown files, one a document (its title as a heading,
then its text), as a user's documents are indexed; every judged
query of the split is then searched over HTTP in each mode, one at a time, and the
ranking is scored against the judgements under BEIR's conventions (``beir.RULE``). The
report holds each query's scores too (``per_query``), which ``--compare`` pairs. Without
``--url`` the command runs a private embedded Semantik of its own and stops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .beir import RULE, Dataset, DatasetError, load_dataset, percentile, score_query
from .client import ApiError, SearchResponse, SearchResult, SemantikClient
from .embedded import embedded_system
from .progress import IngestFailed, ingest_records, ingest_source
from .session import login, own_system_login

MODES = ("dense", "sparse", "hybrid")
MEASURES = ("ndcg@10", "recall@100", "mrr@10")
#: How ``write_files`` names a corpus document's file: its line in the corpus.
_FILE_NAME = re.compile(r"[0-9]{7}\.md")
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
    output: Path | None = args.output
    if output is not None and not writable(output):
        print(f"error: cannot write the report to {output}: no such directory", file=sys.stderr)
        return 2
    directory: Path = args.directory
    try:
        dataset = load_dataset(directory, choose_split(directory, args.split))
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        url, data_dir = args.url, args.data_dir
        if data_dir is None:
            data_dir = Path(
                ".semantik" if url else stack.enter_context(tempfile.TemporaryDirectory())
            )
        try:
            files = write_files(dataset, args.as_files) if args.as_files else None
        except (DatasetError, OSError) as exc:
            print(f"error: cannot write the corpus as files: {exc}", file=sys.stderr)
            return 2
        if url is None:
            print(f"starting an embedded Semantik in {data_dir} …", file=sys.stderr)
            roots = [dataset.corpus.parent] if files is None else [files.directory]
            url = stack.enter_context(embedded_system(data_dir, roots))
        report = await _run(url, data_dir, args, dataset, modes, files, own=args.url is None)
    if report is None:
        return 1
    if args.json:
        print(json.dumps(report))
    else:
        print(_table(report))
    if output is not None and not write_report(output, report):
        return 1
    return 0


def writable(output: Path) -> bool:
    """Whether ``--output`` names a file in an existing directory (checked before the run)."""
    return not output.is_dir() and output.parent.is_dir()


def write_report(output: Path, report: dict[str, Any]) -> bool:
    try:
        output.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot write the report to {output}: {exc.strerror}", file=sys.stderr)
        return False
    return True


@dataclass(frozen=True)
class CorpusFiles:
    """A data set's corpus written as files: the directory, and each file's document id."""

    directory: Path
    ids: dict[str, str]  # file name → corpus id


def write_files(dataset: Dataset, parent: Path) -> CorpusFiles:
    """Each corpus document as a Markdown file under ``parent/<data set>``: its title as a
    level-1 heading, then its text (a document without a title is its text alone). Files
    are named by their line in the corpus, as ids need not be file names; one already
    there with the same content is left as it is, so a kept data dir's scan skips it,
    and one of that naming the corpus no longer has is removed. ``DatasetError`` for a
    line that is not a JSON object with an ``_id``."""
    directory = parent / dataset.name
    directory.mkdir(parents=True, exist_ok=True)
    ids: dict[str, str] = {}
    with dataset.corpus.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                key = row["_id"]
            except (ValueError, TypeError, KeyError):
                raise DatasetError(
                    f"{dataset.corpus}:{number + 1}: expected a JSON object with an _id"
                ) from None
            title = " ".join(str(row.get("title") or "").split())
            text = str(row.get("text") or "").strip()
            name = f"{number:07d}.md"
            ids[name] = str(key)
            content = f"# {title}\n\n{text}\n" if title else f"{text}\n"
            path = directory / name
            if not path.is_file() or path.read_text(encoding="utf-8") != content:
                path.write_text(content, encoding="utf-8")
    for stale in directory.glob("*.md"):
        if _FILE_NAME.fullmatch(stale.name) and stale.name not in ids:
            stale.unlink()
    return CorpusFiles(directory.resolve(), ids)


async def _run(
    url: str,
    data_dir: Path,
    args: argparse.Namespace,
    dataset: Dataset,
    modes: list[str],
    files: CorpusFiles | None,
    own: bool,
) -> dict[str, Any] | None:
    async with SemantikClient(url, timeout=120) as client:
        if own:
            await own_system_login(client, data_dir)
        else:
            await login(client, args.username, args.password, data_dir)
        collection_id = await _ingest(client, dataset, files)
        if collection_id is None:
            return None
        ids = _record_id if files is None else _file_id(files)
        results = {
            mode: await _measure(client, collection_id, dataset, mode, ids) for mode in modes
        }
    return {
        "dataset": dataset.name,
        "indexed_as": "records" if files is None else "files",
        "split": dataset.split,
        "queries": len(dataset.queries),
        "queries_evaluated": len(dataset.queries),
        "queries_without_positives": dataset.without_positives,
        "rule": RULE,
        "modes": results,
    }


async def _ingest(
    client: SemantikClient, dataset: Dataset, files: CorpusFiles | None
) -> str | None:
    label = f"ingesting {dataset.name}"
    try:
        if files is None:
            collection = await ingest_records(client, f"eval-{dataset.name}", dataset.corpus, label)
        else:
            collection = await ingest_source(
                client, f"eval-{dataset.name}-files", files.directory, label
            )
    except IngestFailed as exc:
        print(f"error: ingesting the corpus {exc}", file=sys.stderr)
        return None
    return str(collection.id)


async def _measure(
    client: SemantikClient,
    collection_id: str,
    dataset: Dataset,
    mode: str,
    corpus_id: Callable[[SearchResult], str],
) -> dict[str, Any]:
    queries = list(dataset.queries.items())
    for _, text in queries[:WARMUP]:
        await _search(client, collection_id, text, mode)
    per_query: dict[str, dict[str, float]] = {}
    latencies: list[float] = []
    identical = 0
    for query_id, text in queries:
        response, took = await _search(client, collection_id, text, mode)
        latencies.append(took)
        ranked = [corpus_id(hit) for hit in response.results]
        identical += query_id in ranked
        per_query[query_id] = score_query(query_id, ranked, dataset.qrels[query_id])
    return summary(per_query) | {
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "identical_ids_ignored": identical,
        "per_query": {
            q: {m: round(v, 6) for m, v in scores.items()} for q, scores in per_query.items()
        },
    }


def summary(per_query: dict[str, dict[str, float]]) -> dict[str, float]:
    """Each measure's mean over the queries, to four places."""
    count = len(per_query) or 1
    return {m: round(sum(s[m] for s in per_query.values()) / count, 4) for m in MEASURES}


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


def _file_id(files: CorpusFiles) -> Callable[[SearchResult], str]:
    def corpus_id(hit: SearchResult) -> str:
        return files.ids.get(Path(hit.path).name, hit.path)

    return corpus_id


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
    lines.append(
        f"{report['queries_without_positives']} of the queries have no positive judgement. "
        f"{report['rule']}."
    )
    return "\n".join(lines)
