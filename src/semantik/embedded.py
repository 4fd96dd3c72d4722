"""A private, embedded Semantik for commands that need a whole system of their own
(``semantik eval``, ``semantik bench search``): started on a free port with its data in
a directory of its own, stopped when the command ends."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .settings import RunSettings
from .supervisor import Supervisor, free_port

#: How long the services may take to come up (loading the model dominates).
READY_TIMEOUT_SECONDS = 300.0


@contextmanager
def embedded_system(data_dir: Path, source_roots: Sequence[Path]) -> Iterator[str]:
    """Start every service in the embedded default and yield the gateway's URL.

    Nothing of the caller's environment chooses the infrastructure: its own NATS,
    SQLite event stores and Qdrant Edge, whatever ``NATS_URL`` and friends say.
    """
    settings = RunSettings(
        host="127.0.0.1",
        port=free_port(),
        data_dir=data_dir,
        source_roots=os.pathsep.join(str(root.resolve()) for root in source_roots),
        nats_url=None,
        database_url=None,
        qdrant_url=None,
        log_level="WARNING",
    )
    supervisor = Supervisor(settings)
    supervisor.preflight()
    stopped = threading.Event()

    def watch() -> None:
        while not stopped.wait(0.2):
            supervisor.watch_once()

    # A private system measuring itself is not throttled (the gateway's search limit).
    previous = os.environ.get("SEARCH_RATE_LIMIT_PER_MINUTE")
    os.environ["SEARCH_RATE_LIMIT_PER_MINUTE"] = "0"
    try:
        supervisor.start()
    finally:
        if previous is None:
            del os.environ["SEARCH_RATE_LIMIT_PER_MINUTE"]
        else:
            os.environ["SEARCH_RATE_LIMIT_PER_MINUTE"] = previous
    watcher = threading.Thread(target=watch, name="embedded-supervisor", daemon=True)
    watcher.start()
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not supervisor.gateway_ready():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Semantik did not become ready within {READY_TIMEOUT_SECONDS:.0f} s; "
                    f"see the logs in {supervisor.log_dir}"
                )
            time.sleep(0.2)
        yield f"http://{settings.host}:{settings.port}"
    finally:
        stopped.set()
        watcher.join()
        supervisor.stop()
