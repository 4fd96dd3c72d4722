"""The whole system started as a user starts it: ``semantik run`` in a temporary data dir."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.services import free_port

#: Each running system's data dir by its URL: tests make their accounts as its admin.
DATA_DIRS: dict[str, Path] = {}


async def register(client: httpx.AsyncClient, account: dict[str, str]) -> int:
    """Make ``account`` on the system ``client`` talks to as its operator would
    (registration is closed, SPEC §11): created by the admin API and granted the
    system's source root. The status of the creation (201, or 409 if it exists)."""
    data_dir = DATA_DIRS[str(client.base_url).rstrip("/")]
    operator = json.loads((data_dir / "secrets" / "cli_credentials.json").read_text())
    signed_in = await client.post("/api/v1/auth/login", json=operator)
    assert signed_in.status_code == 200, signed_in.text
    admin = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    created = await client.post("/api/v1/users", json=account, headers=admin)
    if created.status_code == 201:
        grant = {"path": str(data_dir / "sources"), "user_id": created.json()["id"]}
        granted = await client.post("/api/v1/source-roots", json=grant, headers=admin)
        assert granted.status_code == 201, granted.text
    return created.status_code


@dataclass
class RunningSystem:
    url: str
    data_dir: Path
    sources: Path
    process: subprocess.Popen[bytes]

    def pid(self, service: str) -> int:
        return int((self.data_dir / "run" / f"{service}.pid").read_text())

    def log(self, service: str) -> str:
        path = self.data_dir / "logs" / f"{service}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def wait_ready(system: RunningSystem, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if system.process.poll() is not None:
            break
        try:
            if httpx.get(f"{system.url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    logs = "\n".join(
        f"--- {name}\n{system.log(name)}"
        for name in ("collections", "ingest", "vector-host", "gateway", "nats-server")
    )
    pytest.fail(f"semantik run did not become ready\n{logs}")


@contextlib.contextmanager
def semantik_run(data_dir: Path, **settings: str) -> Iterator[RunningSystem]:
    """``semantik run`` in ``data_dir`` with extra settings, until the block ends."""
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL", "QDRANT_URL")
    }
    env.update(
        SEMANTIK_DATA_DIR=str(data_dir),
        SEMANTIK_PORT=str(port),
        LOG_LEVEL="INFO",
        # Work held by a killed embedder comes back after this; keeps the kill test short.
        SEMANTIK_EMBED_ACK_WAIT_SECONDS="8",
        **settings,
    )
    semantik = Path(sys.executable).parent / "semantik"
    process = subprocess.Popen(
        [str(semantik), "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    running = RunningSystem(f"http://127.0.0.1:{port}", data_dir, data_dir / "sources", process)
    DATA_DIRS[running.url] = data_dir
    try:
        wait_ready(running)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(40)
        except subprocess.TimeoutExpired:
            process.kill()
    assert_no_refusals(data_dir)


def assert_no_refusals(data_dir: Path) -> None:
    """No service of the system was refused a subject by its NATS server: a permission
    the generated configuration lacks is a feature that fails in every embedded
    deployment while tests on an open server pass (the orphan sweep's consumer info)."""
    log = data_dir / "logs" / "nats-server.log"
    refused = [
        line.strip()
        for line in (log.read_text(errors="replace").splitlines() if log.exists() else [])
        if "Violation" in line
    ]
    assert refused == [], f"the NATS server refused {len(refused)} subjects:\n" + "\n".join(
        refused[:5]
    )


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[RunningSystem]:
    data_dir = tmp_path_factory.mktemp("semantik-data")
    # models_dir holds acme/tiny-bert (tests/models.py), a second model to reindex into.
    # A module's tests sign in many users from one address: the sign-in rate limit
    # (tested in tests/gateway/test_protection.py) would refuse the later ones.
    settings = {
        "SEMANTIK_MODELS_DIR": str(models_dir),
        "SEMANTIK_REINDEX_GRACE_SECONDS": "1",
        "AUTH_RATE_LIMIT_PER_MINUTE": "0",
    }
    with semantik_run(data_dir, **settings) as running:
        yield running
