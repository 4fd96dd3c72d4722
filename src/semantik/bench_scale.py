"""``semantik bench scale``: how Semantik's costs grow with its history and its data
(SPEC §14, issue 25).

- Start-up: for each ``--log-events`` size, a collections event log of that size is
  written as real indexing writes it (``bench_scale_log``), and the collections service
  is started on it as ``semantik run`` starts it (its own process, a private
  nats-server), timed from the process's start to its ``/health/ready`` answering, with
  its resident memory (RSS) then. The first start folds the whole log (the stored read
  model was dropped, as after ``projections rebuild``), has its relay publish the log to
  the stream, and writes the read model's state at its stop; ``collections_start_s``
  and ``collections_rss_mb`` are the median of the ``--starts`` starts after it, the
  restart a user sees; ``collections_first_start_s`` is that first one.
- Search: a private embedded system with one collection per ``--search-chunks`` size,
  filled with synthetic points straight into its shard (``bench_scale_search``), HNSW
  built; p50 and p95 of ``--queries`` hybrid searches of one collection through HTTP,
  gateway, bus and search service (``bench search``'s client), after ``--warmup``
  searches of it with other queries.
- Ingest: ``--ingest-documents`` generated documents (``bench ingest``'s corpus)
  ingested through the whole system with the embedder's ``SEMANTIK_EMBED_LANES`` set to
  each of ``--lanes``: chunks over the seconds from the request to the operation's end.

The machine's load average is reported with the figures: on a shared machine it moves
every one of them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .lifetime import die_with_parent
from .supervisor import free_port

#: Start-up targets of issue 25: the largest log within this factor of the smallest's
#: start, RSS within this many MB across sizes; hybrid p95 at the largest collection.
START_FACTOR = 2.0
RSS_SPREAD_MB = 100.0
SEARCH_P95_MS = 50.0


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def say(text: str) -> None:
    """A line of progress on stderr (a full run takes hours), with the time and load."""
    print(f"{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.1f}: {text}", file=sys.stderr)


# -- start-up against the size of the log ---------------------------------------------
def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for process {pid}")


@contextlib.contextmanager
def collections_process(data_dir: Path, nats_url: str) -> Iterator[tuple[float, float]]:
    """The collections service on ``data_dir``: seconds from its start to ready, and its
    RSS in MB then; stopped (SIGTERM: it writes its read model's state) at the end."""
    import httpx

    from .bench_ingest import SYSTEM_CHOICES

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in SYSTEM_CHOICES}
    env.update(
        NATS_URL=nats_url,
        SEMANTIK_DATA_DIR=str(data_dir),
        SEMANTIK_HEALTH_PORT=str(port),
        LOG_LEVEL="WARNING",
    )
    with (data_dir / "collections.log").open("ab") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "collections_service"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the collections service exited; see {data_dir}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200:
                    break
            time.sleep(0.02)
        yield time.monotonic() - started, _rss_mb(process.pid)
    finally:
        process.terminate()  # an orderly stop, in which it writes its read model's state
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(300)
        if process.poll() is None:
            process.kill()


def store_bytes(data_dir: Path, application: str) -> int:
    """The size of an application's SQLite event store in ``data_dir``, vacuumed."""
    database = data_dir / "eventstore" / f"{application}.sqlite3"
    with contextlib.closing(sqlite3.connect(database)) as db:
        db.execute("VACUUM")
    return database.stat().st_size


def _relayed(data_dir: Path) -> bool:
    """Whether the collections relay has published the whole log."""
    database = data_dir / "eventstore" / "collections.sqlite3"
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        (last,) = db.execute("SELECT MAX(rowid) FROM stored_events").fetchone()
        row = db.execute(
            "SELECT MAX(notification_id) FROM tracking WHERE application_name=?",
            ("collections.relay",),
        ).fetchone()
    return row[0] is not None and row[0] >= last


async def _streams(nats_url: str) -> None:
    from semantik_runtime.bus import Bus

    bus = await Bus.connect(nats_url, "bench")
    try:
        await bus.ensure_streams()
    finally:
        await bus.close()


def measure_start(events: int, starts: int) -> dict[str, Any]:
    """Start-up seconds and RSS of the collections service on a log of ``events``."""
    from semantik_runtime.eventstore import event_store_env

    from .bench_core import private_nats
    from .bench_scale_log import write_log

    with tempfile.TemporaryDirectory(prefix="semantik-bench-scale-") as tmp:
        data_dir = Path(tmp)
        written = write_log(event_store_env("collections", None, data_dir), events)
        # Vacuumed: the dropped read model's pages are not the log's.
        size = store_bytes(data_dir, "collections")
        say(f"log of {written} events written ({size / written:.0f} bytes each)")
        with private_nats(data_dir) as nats_url:
            asyncio.run(_streams(nats_url))
            with collections_process(data_dir, nats_url) as (first, _):
                say(f"first start {first:.2f} s; the relay publishes the log")
                while not _relayed(data_dir):  # as a running system would have
                    time.sleep(0.5)
            runs = []
            for _ in range(starts):
                with collections_process(data_dir, nats_url) as run:
                    runs.append(run)
                say(f"start {run[0]:.2f} s, RSS {run[1]} MB")
    return {
        "events": written,
        "store_bytes": size,
        "first_start_s": round(first, 3),
        "start_s": round(statistics.median(s for s, _ in runs), 3),
        "rss_mb": round(statistics.median(r for _, r in runs), 1),
    }


def bench_scale(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"load_average_before": load_average()}
    starts = [measure_start(n, args.starts) for n in args.log_events]
    report.update(
        log_events=[s["events"] for s in starts],
        log_store_bytes=[s["store_bytes"] for s in starts],
        bytes_per_event=[round(s["store_bytes"] / s["events"]) for s in starts],
        collections_first_start_s=[s["first_start_s"] for s in starts],
        collections_start_s=[s["start_s"] for s in starts],
        collections_rss_mb=[s["rss_mb"] for s in starts],
    )
    if args.search_chunks:
        lanes = (str(args.lanes[0]), str(args.lanes[-1]))
        documents = args.ingest_documents
        from .bench_scale_search import measure_search_and_ingest

        report.update(
            measure_search_and_ingest(
                args.search_chunks, lanes, documents, args.queries, args.data_dir, args.warmup
            )
        )
        if documents:
            report.update(ingest_lanes=[int(n) for n in lanes], ingest_documents=documents)
        report["queries"] = args.queries
        report["warmup_queries"] = args.warmup
    report["load_average_after"] = load_average()
    report["targets"] = targets(report)
    return report


def targets(report: dict[str, Any]) -> dict[str, bool | None]:
    """Issue 25's targets, each met or not (None: the sizes run do not say)."""
    start, rss, p95 = (
        report.get(k, []) for k in ("collections_start_s", "collections_rss_mb", "search_p95_ms")
    )
    return {
        "start_within_2x": start[-1] <= START_FACTOR * start[0] if len(start) > 1 else None,
        "rss_flat_100mb": max(rss) - min(rss) <= RSS_SPREAD_MB if len(rss) > 1 else None,
        "search_p95_50ms": p95[-1] <= SEARCH_P95_MS if p95 else None,
    }


def sizes(text: str) -> list[int]:
    """A comma-separated list of sizes, as ``--log-events 10000,100000`` gives them;
    ``none``: none (that part of the bench is skipped)."""
    if text == "none":
        return []
    values = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive integers: {text!r}")
    return values


def count(text: str) -> int:
    """A number of documents, 0 or more (0: that part of the bench is skipped)."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"a count must be 0 or a positive integer: {text!r}")
    return value


def add_scale_bench(benches: Any) -> None:
    scale = benches.add_parser(
        "scale", help="start-up and memory against the log's size, search against a collection's"
    )
    for option in ("--log-events", "--search-chunks"):
        scale.add_argument(
            option,
            type=sizes,
            default=[10_000, 100_000, 1_000_000],
            help="comma-separated sizes, or none to skip that part",
        )
    scale.add_argument("--starts", type=int, default=3, help="measured starts per log size")
    scale.add_argument("--queries", type=int, default=200, help="per collection")
    scale.add_argument(
        "--warmup",
        type=count,
        default=400,
        help="searches of each collection (other queries) before the measured ones",
    )
    scale.add_argument(
        "--ingest-documents", type=count, default=200, help="per lane setting; 0: no ingest"
    )
    scale.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the search part's system here: a rerun searches the collections an "
        "earlier run filled instead of filling them again (default: a temporary one)",
    )
    scale.add_argument("--lanes", type=sizes, default=[1, 2], help="embedder lanes, two")
    scale.add_argument("--json", action="store_true", help="one JSON object on stdout")
    scale.set_defaults(func=bench_scale_command)


def bench_scale_command(args: argparse.Namespace) -> int:
    import json

    report = bench_scale(args)
    if args.json:
        print(json.dumps(report))
        return 0
    for key, value in report.items():
        print(f"{key:>26}: {value}")
    return 0
