"""The ``semantik`` command (SPEC §9): one subcommand per task, each with its handler."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import users
from .bench_commands import (
    add_columns_bench,
    add_fresh_bench,
    add_mcp_bench,
    add_webhooks_bench,
    bench_api_command,
    bench_core_command,
    bench_ingest_command,
    bench_search_command,
    bench_sources_command,
)
from .bench_scale import add_scale_bench
from .client import default_url
from .commands import ingest_directory, report_errors, search_collections

if TYPE_CHECKING:
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]


def data_dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("SEMANTIK_DATA_DIR", ".semantik"))
    )


def client_options(
    p: argparse.ArgumentParser, account: tuple[str, str] = ("--username", "--password")
) -> None:
    """Where the running Semantik is, and who signs in (default: the local operator)."""
    p.add_argument("--url", default=default_url(), help="default: SEMANTIK_URL, else host:port")
    p.add_argument(account[0], dest="username", default=os.environ.get("SEMANTIK_USERNAME"))
    p.add_argument(account[1], dest="password", default=os.environ.get("SEMANTIK_PASSWORD"))
    data_dir_option(p)


def run_command(args: argparse.Namespace) -> int:
    from .settings import RunSettings
    from .supervisor import run as run_all

    overrides: dict[str, Any] = {
        k: v
        for k, v in (("host", args.host), ("port", args.port), ("data_dir", args.data_dir))
        if v is not None
    }
    return run_all(RunSettings(**overrides))


def eval_command(args: argparse.Namespace) -> int:
    from .eval_compare import compare_command
    from .evaluate import evaluate

    if (args.directory is None) == (args.compare is None):
        print("error: give a data set directory, or --compare A.json B.json", file=sys.stderr)
        return 2
    return compare_command(args) if args.compare else report_errors(evaluate)(args)


def rebuild_command(args: argparse.Namespace) -> int:
    from .rebuild import rebuild_projections

    return asyncio.run(rebuild_projections(args))


def mcp_command(args: argparse.Namespace) -> int:
    from .mcp_stdio import mcp_command as serve_mcp

    return serve_mcp(args)


def add_client_commands(commands: Subcommands) -> None:
    ingest = commands.add_parser("ingest", help="add a directory to a collection and follow it")
    ingest.add_argument("directory", type=Path)
    ingest.add_argument("--collection", required=True)
    client_options(ingest)
    ingest.set_defaults(func=ingest_directory)

    search = commands.add_parser("search", help="search one or more collections")
    search.add_argument("query")
    search.add_argument("--collection", action="append", required=True)
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--mode", choices=["hybrid", "dense", "sparse"], default="hybrid")
    client_options(search)
    search.set_defaults(func=search_collections)

    projections = commands.add_parser("projections", help="the read models")
    projection_commands = projections.add_subparsers(dest="projections", required=True)
    rebuild = projection_commands.add_parser(
        "rebuild", help="drop the read models and rebuild them from the event log"
    )
    rebuild.add_argument("--nats-url", default=os.environ.get("NATS_URL"))
    rebuild.add_argument(
        "--nats-user",
        default=os.environ.get("NATS_USER"),
        help="NATS user (its password in NATS_PASSWORD); the `operator` user of "
        "`semantik run` if unset",
    )
    data_dir_option(rebuild)
    # Never a command-line argument: other users of the machine see those.
    rebuild.set_defaults(func=rebuild_command, nats_password=os.environ.get("NATS_PASSWORD"))

    users.add_parsers(commands, client_options)

    mcp = commands.add_parser("mcp", help="Semantik's MCP server over stdio, for AI agents")
    mcp.add_argument("--url", default=default_url(), help="default: SEMANTIK_URL, else host:port")
    data_dir_option(mcp)  # its local account, unless SEMANTIK_API_KEY is set
    mcp.set_defaults(func=mcp_command)


def add_bench_commands(commands: Subcommands) -> None:
    bench = commands.add_parser("bench", help="measure throughput (SPEC §10)")
    benches = bench.add_subparsers(dest="bench", required=True)
    core = benches.add_parser("core", help="relay events/s and commands/s of the core")
    core.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    core.add_argument("--collections", type=int, default=1000, help="relay: 4 events each")
    core.add_argument("--commands", type=int, default=2000)
    core.add_argument("--concurrency", type=int, default=16)
    core.add_argument("--json", action="store_true")
    core.set_defaults(func=bench_core_command)

    api = benches.add_parser(
        "api", help="requests/s, p50 and p95 of the gateway under concurrent clients"
    )
    api.add_argument("--clients", type=int, default=50)
    api.add_argument("--seconds", type=float, default=60.0, help="per workload")
    api.add_argument("--documents", type=int, default=200, help="in the searched collection")
    api.add_argument("--json", action="store_true")
    client_options(api)
    api.set_defaults(func=bench_api_command)

    sources = benches.add_parser(
        "sources", help="extraction documents/s and the re-scan of an unchanged source"
    )
    sources.add_argument("--per-format", type=int, default=40, help="extraction corpus size")
    sources.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    sources.add_argument("--files", type=int, default=1000, help="files of the re-scanned source")
    sources.add_argument("--json", action="store_true")
    sources.set_defaults(func=bench_sources_command)

    ingest = benches.add_parser(
        "ingest", help="ingest a generated corpus through the whole system vs bare encoding"
    )
    ingest.add_argument("--documents", type=int, default=400)
    ingest.add_argument("--words", type=int, default=170, help="words per document")
    ingest.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ingest.set_defaults(func=bench_ingest_command)

    search = benches.add_parser(
        "search", help="federated hybrid search latency, through the services and in-process"
    )
    search.add_argument("--json", action="store_true", help="one JSON object on stdout")
    search.add_argument("--collections", type=int, default=5)
    search.add_argument(
        "--beir", type=Path, help="BEIR directory: its corpus in every collection, its queries"
    )
    search.add_argument(
        "--documents",
        type=int,
        help="records per collection: the first of the --beir corpus (default all), "
        "else made-up ones (default 5183)",
    )
    search.add_argument("--queries", type=int, default=200)
    search.add_argument(
        "--facets",
        type=lambda keys: [key for key in keys.split(",") if key],
        default=[],
        help="facet keys each search asks for, comma-separated (file_type,source_id)",
    )
    search.add_argument(
        "--facet-depth", type=int, default=200, help="the facets' candidates (10-1000)"
    )
    search.add_argument(
        "--data-dir", type=Path, help="keep the system's data here (re-runs skip ingest)"
    )
    search.set_defaults(func=bench_search_command)
    add_webhooks_bench(benches)
    add_fresh_bench(benches)
    add_mcp_bench(benches)
    add_columns_bench(benches)
    add_scale_bench(benches)

    evaluation = commands.add_parser(
        "eval", help="retrieval quality and latency on a BEIR-format data set"
    )
    evaluation.add_argument(
        "directory", type=Path, nargs="?", help="corpus.jsonl, queries.jsonl, qrels/"
    )
    evaluation.add_argument("--split", help="qrels split (default: test, else the only one)")
    evaluation.add_argument("--modes", default="dense,sparse,hybrid")
    evaluation.add_argument("--json", action="store_true", help="one JSON object on stdout")
    evaluation.add_argument("--output", type=Path, help="also write the JSON report here")
    evaluation.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("A.json", "B.json"),
        help="pair two reports' per-query scores: wins, losses and a paired significance test",
    )
    evaluation.add_argument(
        "--measure",
        default="ndcg@10",
        choices=("ndcg@10", "recall@100", "mrr@10"),
        help="the measure --compare pairs (default: ndcg@10)",
    )
    evaluation.add_argument(
        "--as-files",
        type=Path,
        metavar="DIR",
        help="index the corpus as Markdown files instead of records, one a document (its "
        "title as a heading), written to DIR/<data set> (outside the data dir; with --url, "
        "under one of the server's source roots)",
    )
    evaluation.add_argument("--url", help="evaluate on this Semantik instead of a private one")
    evaluation.add_argument("--username", default=os.environ.get("SEMANTIK_USERNAME"))
    evaluation.add_argument("--password", default=os.environ.get("SEMANTIK_PASSWORD"))
    evaluation.add_argument(
        "--data-dir", type=Path, help="keep the private system's data here (re-runs skip ingest)"
    )
    evaluation.set_defaults(func=eval_command)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="semantik", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start every service on this machine")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument("--data-dir", type=Path)
    run.set_defaults(func=run_command)
    add_client_commands(commands)
    add_bench_commands(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))
