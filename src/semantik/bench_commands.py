"""``semantik bench …``: run a benchmark, print its figures (or one JSON object)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json

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
user calling the model alone would get."""


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


def bench_webhooks_command(args: argparse.Namespace) -> int:
    from .bench_webhooks import bench_webhooks

    result = bench_webhooks(args)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"webhooks: {result['deliveries']} deliveries, from the event's commit to the "
            f"receiver p50 {result['latency_p50_ms']} ms, p95 {result['latency_p95_ms']} ms "
            f"({result['repeats']} repeated)"
        )
    return 0


def add_webhooks_bench(benches: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``semantik bench webhooks``."""
    webhooks = benches.add_parser(
        "webhooks", help="webhook delivery latency, from an event's commit to the receiver"
    )
    webhooks.add_argument("--documents", type=int, default=20, help="in the indexed collection")
    webhooks.add_argument("--json", action="store_true", help="one JSON object on stdout")
    webhooks.set_defaults(func=bench_webhooks_command)


def bench_mcp_command(args: argparse.Namespace) -> int:
    from .bench_mcp import bench_mcp

    result = bench_mcp(args)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"search over {result['queries']} queries: REST p50 {result['rest_p50_ms']} ms, "
            f"p95 {result['rest_p95_ms']} ms; MCP (streamable HTTP) p50 "
            f"{result['mcp_p50_ms']} ms, p95 {result['mcp_p95_ms']} ms"
        )
    return 0


def add_mcp_bench(benches: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``semantik bench mcp``."""
    mcp = benches.add_parser(
        "mcp", help="the MCP search tool's latency against the REST search, on one system"
    )
    mcp.add_argument("--documents", type=int, default=200, help="in the searched collection")
    mcp.add_argument("--queries", type=int, default=200)
    mcp.add_argument("--json", action="store_true", help="one JSON object on stdout")
    mcp.set_defaults(func=bench_mcp_command)
