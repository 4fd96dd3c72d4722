"""``semantik bench …``: run a benchmark, print its figures (or one JSON object)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from collections.abc import Callable
from typing import Any

from .commands import report_errors, sign_in

EFFICIENCY = """\
efficiency_vs_lanes = e2e_chunks_per_s / encode_lanes_chunks_per_s: what the services
cost over the same encoder. The chunks of the first ingest over the seconds from its
request to its OperationCompleted reaching this client (through gateway, bus, ingest,
embedder, vector store), divided by bare encoding of the same chunks in the embedder's
own layout (a call per lane at once, each lane with its share of torch's threads).
overhead_seconds is the median, over the paired bare runs (one before and one after the
system's), of the system's seconds minus the bare lanes' seconds. efficiency divides by
bare model.encode one call of 128 at a time with torch's default threads instead: what a
user calling the model alone would get. speedup_vs_fp32 = e2e_chunks_per_s /
bare_fp32_chunks_per_s: the system against a fresh SentenceTransformer(path).encode of
the same chunks with every default of the library (float32, batch 32), warm; precision
is what the system's documents were encoded in (SEMANTIK_EMBED_PRECISION)."""


def bench_ingest_command(args: argparse.Namespace) -> int:
    from .bench_ingest import run_ingest_bench

    result = dataclasses.asdict(run_ingest_bench(args.documents, args.words))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>26}: {value}")
        print(EFFICIENCY)
    return 0


def bench_core_command(args: argparse.Namespace) -> int:
    from .bench_core import bench_core

    result = asyncio.run(
        bench_core(args.database_url, args.collections, args.commands, args.concurrency)
    )
    if args.json:
        print(json.dumps(result))
    else:
        relay, sent = result["relay"], result["commands"]
        print(
            f"{result['store']}: relay {relay['per_s']} events/s ({relay['events']} events, "
            f"acked) · commands {sent['per_s']}/s ({sent['commands']} over request/reply, "
            f"{sent['concurrency']} clients)"
        )
    return 0


def bench_sources_command(args: argparse.Namespace) -> int:
    from .bench_sources import bench_extraction, bench_rescan

    extraction = bench_extraction(args.per_format, args.workers)
    if not args.json:
        print(
            f"extraction: {extraction['documents_per_s']} documents/s "
            f"({extraction['documents']} documents of 7 formats, {args.workers} processes)"
        )
    rescan = bench_rescan(args.files)
    if args.json:
        print(json.dumps({"extraction": extraction, "rescan": rescan}))
    else:
        print(
            f"source of {rescan['files']} files: first ingest {rescan['first_ingest_seconds']} s "
            f"({rescan['first_chunks_embedded']} chunks embedded), unchanged re-scan "
            f"{rescan['rescan_seconds']} s ({rescan['rescan_embedded']} chunks embedded)"
        )
    return 0


def bench_search_command(args: argparse.Namespace) -> int:
    from .bench_search import bench_search

    return bench_search(args)


@report_errors
async def bench_api_command(args: argparse.Namespace) -> int:
    """Against a running Semantik, signed in as the local operator account (or a user)."""
    import httpx

    from .bench_api import bench_api
    from .client import SemantikClient

    async with SemantikClient(args.url) as signing_in:
        await sign_in(signing_in, args)
        token = signing_in.token
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=args.url, headers=headers, limits=limits, timeout=60.0
    ) as client:
        result = await bench_api(
            client,
            args.data_dir / "sources" / "bench-api",
            clients=args.clients,
            seconds=args.seconds,
            documents=args.documents,
        )
    if args.json:
        print(json.dumps(result))
    else:
        for name in ("list_collections", "search"):
            w = result[name]
            print(
                f"{name}: {w['rps']} requests/s, p50 {w['p50_ms']} ms, p95 {w['p95_ms']} ms "
                f"({w['requests']} ok, {w['errors']} errors, {result['clients']} clients)"
            )
    return 0


def report(args: argparse.Namespace, result: dict[str, Any], line: Callable[[], str]) -> int:
    """``result`` as one JSON object with ``--json``, else as the line a person reads."""
    print(json.dumps(result) if args.json else line())
    return 0


def bench_webhooks_command(args: argparse.Namespace) -> int:
    from .bench_webhooks import bench_webhooks

    r = bench_webhooks(args)
    return report(
        args,
        r,
        lambda: (
            f"webhooks: {r['deliveries']} deliveries, from the event's commit to the "
            f"receiver p50 {r['latency_p50_ms']} ms, p95 {r['latency_p95_ms']} ms "
            f"({r['repeats']} repeated)"
        ),
    )


def bench_mcp_command(args: argparse.Namespace) -> int:
    from .bench_mcp import bench_mcp

    r = bench_mcp(args)
    return report(
        args,
        r,
        lambda: (
            f"search over {r['queries']} queries: REST p50 {r['rest_p50_ms']} ms, "
            f"p95 {r['rest_p95_ms']} ms; MCP (streamable HTTP) p50 {r['mcp_p50_ms']} ms, "
            f"p95 {r['mcp_p95_ms']} ms"
        ),
    )


def add_system_bench(
    benches: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    command: Callable[[argparse.Namespace], int],
    documents: int,
) -> argparse.ArgumentParser:
    """A bench of its own embedded system: ``--documents`` indexed, ``--json`` output."""
    bench = benches.add_parser(name, help=summary)
    bench.add_argument("--documents", type=int, default=documents, help="in the collection")
    bench.add_argument("--json", action="store_true", help="one JSON object on stdout")
    bench.set_defaults(func=command)
    return bench


def add_webhooks_bench(benches: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``semantik bench webhooks``."""
    summary = "webhook delivery latency, from an event's commit to the receiver"
    add_system_bench(benches, "webhooks", summary, bench_webhooks_command, 20)


def add_mcp_bench(benches: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``semantik bench mcp``."""
    summary = "the MCP search tool's latency against the REST search, on one system"
    mcp = add_system_bench(benches, "mcp", summary, bench_mcp_command, 200)
    mcp.add_argument("--queries", type=int, default=200)


def bench_columns_command(args: argparse.Namespace) -> int:
    from .bench_columns import bench_columns

    r = bench_columns(args)
    return report(
        args,
        r,
        lambda: (
            f"column set switch over {r['rows']} rows: search serves the new rows after "
            f"p50 {r['switch_p50_s']} s (max {r['switch_max_s']} s, {r['repeats']} switches); "
            f"the re-embed completes after p50 {r['operation_p50_s']} s"
        ),
    )


def add_columns_bench(benches: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``semantik bench columns``."""
    summary = "switching a source between column sets, until search serves the new rows"
    columns = benches.add_parser("columns", help=summary)
    columns.add_argument("--rows", type=int, default=200, help="rows of the CSV")
    columns.add_argument("--repeats", type=int, default=6, help="switches measured")
    columns.add_argument("--json", action="store_true", help="one JSON object on stdout")
    columns.set_defaults(func=bench_columns_command)


def bench_fresh_command(args: argparse.Namespace) -> int:
    from .bench_fresh import bench_fresh

    r = bench_fresh(args)
    return report(
        args,
        r,
        lambda: (
            f"freshness of a watched source, from the write to the search API, p50 over "
            f"{r['repeats']}: new file {r['new_file_s']} s, changed {r['changed_file_s']} s, "
            f"deleted {r['deleted_file_s']} s"
        ),
    )


def add_fresh_bench(benches: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``semantik bench fresh``."""
    summary = "a watched source's freshness: a file written, changed, deleted to the search"
    fresh = add_system_bench(benches, "fresh", summary, bench_fresh_command, 20)
    fresh.add_argument("--repeats", type=int, default=5, help="of each change (p50 printed)")
