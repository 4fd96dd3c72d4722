"""The ``semantik`` command (SPEC §9)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .client import ApiError, SemantikClient
from .progress import follow_operation
from .session import login


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="semantik", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start every service on this machine")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument("--data-dir", type=Path)

    def client_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", default=os.environ.get("SEMANTIK_URL", "http://127.0.0.1:8080"))
        p.add_argument("--username", default=os.environ.get("SEMANTIK_USERNAME"))
        p.add_argument("--password", default=os.environ.get("SEMANTIK_PASSWORD"))
        p.add_argument(
            "--data-dir", type=Path, default=Path(os.environ.get("SEMANTIK_DATA_DIR", ".semantik"))
        )

    ingest = commands.add_parser("ingest", help="add a directory to a collection and follow it")
    ingest.add_argument("directory", type=Path)
    ingest.add_argument("--collection", required=True)
    client_options(ingest)

    search = commands.add_parser("search", help="search one or more collections")
    search.add_argument("query")
    search.add_argument("--collection", action="append", required=True)
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--mode", choices=["hybrid", "dense", "sparse"], default="hybrid")
    client_options(search)

    bench = commands.add_parser("bench", help="measure throughput (SPEC §10)")
    benches = bench.add_subparsers(dest="bench", required=True)
    core = benches.add_parser("core", help="relay events/s and commands/s of the core")
    core.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    core.add_argument("--collections", type=int, default=1000, help="relay: 4 events each")
    core.add_argument("--commands", type=int, default=2000)
    core.add_argument("--concurrency", type=int, default=16)
    core.add_argument("--json", action="store_true")
    api = benches.add_parser(
        "api", help="requests/s, p50 and p95 of the gateway under concurrent clients"
    )
    api.add_argument("--clients", type=int, default=50)
    api.add_argument("--seconds", type=float, default=60.0, help="per workload")
    api.add_argument("--documents", type=int, default=200, help="in the searched collection")
    api.add_argument("--json", action="store_true")
    client_options(api)

    sources = benches.add_parser(
        "sources", help="extraction documents/s and the re-scan of an unchanged source"
    )
    sources.add_argument("--per-format", type=int, default=40, help="extraction corpus size")
    sources.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    sources.add_argument("--files", type=int, default=1000, help="files of the re-scanned source")
    sources.add_argument("--json", action="store_true")
    bench_ingest = benches.add_parser(
        "ingest", help="ingest a generated corpus through the whole system vs bare encoding"
    )
    bench_ingest.add_argument("--documents", type=int, default=400)
    bench_ingest.add_argument("--words", type=int, default=170, help="words per document")
    bench_ingest.add_argument("--json", action="store_true", help="one JSON object on stdout")

    projections = commands.add_parser("projections", help="the read models")
    projection_commands = projections.add_subparsers(dest="projections", required=True)
    rebuild = projection_commands.add_parser(
        "rebuild", help="drop the read models and rebuild them from the event log"
    )
    rebuild.add_argument("--nats-url", default=os.environ.get("NATS_URL"))
    rebuild.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("SEMANTIK_DATA_DIR", ".semantik"))
    )

    search_bench = benches.add_parser(
        "search", help="federated hybrid search latency, through the services and in-process"
    )
    search_bench.add_argument("--json", action="store_true", help="one JSON object on stdout")
    search_bench.add_argument("--collections", type=int, default=5)
    search_bench.add_argument(
        "--beir", type=Path, help="BEIR directory: its corpus in every collection, its queries"
    )
    search_bench.add_argument(
        "--documents",
        type=int,
        help="records per collection: the first of the --beir corpus (default all), "
        "else made-up ones (default 5183)",
    )
    search_bench.add_argument("--queries", type=int, default=200)
    search_bench.add_argument(
        "--data-dir", type=Path, help="keep the system's data here (re-runs skip ingest)"
    )

    evaluation = commands.add_parser(
        "eval", help="retrieval quality and latency on a BEIR-format data set"
    )
    evaluation.add_argument("directory", type=Path, help="corpus.jsonl, queries.jsonl, qrels/")
    evaluation.add_argument("--split", help="qrels split (default: test, else the only one)")
    evaluation.add_argument("--modes", default="dense,sparse,hybrid")
    evaluation.add_argument("--json", action="store_true", help="one JSON object on stdout")
    evaluation.add_argument("--url", help="evaluate on this Semantik instead of a private one")
    evaluation.add_argument("--username", default=os.environ.get("SEMANTIK_USERNAME"))
    evaluation.add_argument("--password", default=os.environ.get("SEMANTIK_PASSWORD"))
    evaluation.add_argument(
        "--data-dir", type=Path, help="keep the private system's data here (re-runs skip ingest)"
    )

    args = parser.parse_args(argv)
    if args.command == "bench" and args.bench == "sources":
        return bench_sources_command(args)
    if args.command == "bench" and args.bench == "api":
        return asyncio.run(bench_api_command(args))
    if args.command == "bench" and args.bench == "ingest":
        return bench_ingest_command(args)
    if args.command == "bench" and args.bench == "search":
        from .bench_search import bench_search

        return bench_search(args)
    if args.command == "bench":
        return bench_core_command(args)
    if args.command == "eval":
        from .evaluate import evaluate

        return _report_errors(args, lambda: asyncio.run(evaluate(args)))
    if args.command == "projections":
        return asyncio.run(rebuild_projections(args))
    if args.command == "run":
        from .settings import RunSettings
        from .supervisor import run as run_all

        overrides: dict[str, Any] = {
            k: v
            for k, v in (("host", args.host), ("port", args.port), ("data_dir", args.data_dir))
            if v is not None
        }
        return run_all(RunSettings(**overrides))
    if args.command == "ingest":
        return _report_errors(args, lambda: asyncio.run(ingest_directory(args)))
    return _report_errors(args, lambda: asyncio.run(search_collections(args)))


def _report_errors(args: argparse.Namespace, command: Callable[[], int]) -> int:
    """Run a client command; an API or connection error becomes a message and an exit code."""
    try:
        return command()
    except ApiError as exc:
        print(f"error: {exc.detail} (HTTP {exc.status})", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot reach Semantik at {args.url}: {exc}", file=sys.stderr)
        return 2


async def _login(client: SemantikClient, args: argparse.Namespace) -> None:
    await login(client, args.username, args.password, args.data_dir)


async def ingest_directory(args: argparse.Namespace) -> int:
    async with SemantikClient(args.url) as client:
        await _login(client, args)
        collection = await client.collection_by_name(args.collection)
        if collection is None:
            collection = await client.call(
                "POST", "/api/v2/collections", json={"name": args.collection}
            )
        cid = collection["id"]
        path = str(args.directory.resolve())
        try:
            started = await client.call(
                "POST", f"/api/v2/collections/{cid}/sources", json={"path": path}
            )
            operation = started["operation"]
        except ApiError as exc:
            if exc.status != 409 or "already a source" not in exc.detail:
                raise
            operation = await client.call("POST", f"/api/v2/collections/{cid}/operations/index")
        outcome, final = await follow_operation(client, operation, args.collection)
        stats = final.get("stats", {})
        print(
            f"{outcome.removeprefix('Operation').lower()}: {stats.get('new_documents', 0)} new, "
            f"{final.get('skipped', 0)} skipped, {final.get('failed', 0)} failed, "
            f"{final.get('processed', 0)} chunks embedded"
        )
        for failure in final.get("failures", []):
            print(f"  failed: {failure['path']}: {failure['reason']}")
        return 0 if outcome == "OperationCompleted" else 1


async def search_collections(args: argparse.Namespace) -> int:
    async with SemantikClient(args.url) as client:
        await _login(client, args)
        ids = []
        for name in args.collection:
            found = await client.collection_by_name(name)
            if found is None:
                print(f"error: no collection named {name!r}", file=sys.stderr)
                return 1
            ids.append(found["id"])
        response = await client.call(
            "POST",
            "/api/v2/search",
            json={
                "query": args.query,
                "collection_ids": ids,
                "limit": args.limit,
                "search_type": args.mode,
            },
        )
        for warning in response.get("warnings", []):
            print(f"warning: {warning}", file=sys.stderr)
        for hit in response["results"]:
            snippet = " ".join(hit["text"].split())[:160]
            print(f"{hit['rank']:>3}. {hit['score']:.4f}  {hit['path']}\n     {snippet}")
        if not response["results"]:
            print("no results")
        return 0


EFFICIENCY = """\
efficiency = e2e_chunks_per_s / encode_chunks_per_s: the chunks of the first ingest over
the seconds from its request to its OperationCompleted reaching this client (through
gateway, bus, ingest, embedder, vector store), divided by bare model.encode of the same
chunks per second (same model, the embedder's calls of 128, one at a time with torch's
default threads, warm; the mean of a run before and a run after the system's, against
load drifting on a shared machine). efficiency_vs_lanes divides by bare encoding in the
embedder's own layout instead (encode_lanes_chunks_per_s: a call per lane at once, each
lane with its share of torch's threads): what the services cost over the same encoder."""


def bench_ingest_command(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from .bench_ingest import run_ingest_bench

    result = dataclasses.asdict(run_ingest_bench(args.documents, args.words))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
        print(EFFICIENCY)
    return 0


def bench_core_command(args: argparse.Namespace) -> int:
    import json

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
    import json

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


async def bench_api_command(args: argparse.Namespace) -> int:
    import json

    import httpx

    from .bench_api import bench_api

    async with SemantikClient(args.url) as signing_in:
        await _login(signing_in, args)
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


async def rebuild_projections(args: argparse.Namespace) -> int:
    """Ask the running collections service to rebuild its read models from the log."""
    from semantik_contracts import RpcFailure
    from semantik_contracts.commands import RebuildProjections
    from semantik_contracts.subjects import COLLECTIONS, command_subject
    from semantik_contracts.views import ProjectionsRebuilt
    from semantik_runtime.bus import Bus

    url = args.nats_url or _local_nats_url(args.data_dir)
    if url is None:
        print(
            "error: no NATS_URL, and no Semantik running with data dir "
            f"{args.data_dir} (start it with `semantik run`)",
            file=sys.stderr,
        )
        return 2
    try:
        bus = await Bus.connect(url, "semantik-cli")
    except Exception as exc:  # nats-py raises several kinds when nothing listens
        print(f"error: cannot reach NATS at {url}: {exc}", file=sys.stderr)
        return 2
    try:
        subject = command_subject(COLLECTIONS, "RebuildProjections")
        done = await bus.request(subject, RebuildProjections(), ProjectionsRebuilt, timeout=600)
    except RpcFailure as exc:
        print(f"error: {exc.error.message}", file=sys.stderr)
        return 1
    finally:
        await bus.close()
    print(
        f"rebuilt from {done.position} events in {done.seconds:.2f} s: {done.collections} "
        f"collections, {done.operations} operations, {done.sources} sources, "
        f"{done.audit_entries} audit entries; "
        + (
            "the same answers as before"
            if done.unchanged
            else "the answers changed: the read models had drifted from the log"
        )
    )
    return 0


def _local_nats_url(data_dir: Path) -> str | None:
    """The URL of the nats-server that ``semantik run`` started for this data dir."""
    path = data_dir / "run" / "nats.url"
    return path.read_text().strip() if path.exists() else None
