"""``semantik users`` against a running system, signed in as the local operator account
that ``semantik run`` creates. Depends on the admin users API (SPEC §11,
``GET/POST /api/v1/users``, ``PATCH /api/v1/users/{id}``) and on the gateway creating the
operator account in ``<data dir>/secrets/cli_credentials.json`` (marker ``users_api``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import RunningSystem, semantik_run

pytestmark = [pytest.mark.e2e, pytest.mark.users_api]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    with semantik_run(tmp_path_factory.mktemp("users-cli")) as system:
        yield system


def semantik(
    system: RunningSystem, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEMANTIK_")}
    env.update(SEMANTIK_URL=system.url, SEMANTIK_DATA_DIR=str(system.data_dir))
    command = [str(Path(sys.executable).parent / "semantik"), *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, timeout=60)


def row(listing: str, username: str) -> list[str]:
    return next(line.split() for line in listing.splitlines() if line.split()[0] == username)


def test_an_operator_creates_lists_disables_and_enables_users(running: RunningSystem) -> None:
    created = semantik(
        running, "users", "create", "grace", "--password-stdin", stdin="a long pass 1\n"
    )
    assert created.returncode == 0, created.stderr
    admin = semantik(running, "users", "create", "alan", "--password", "a long pass 2", "--admin")
    assert admin.returncode == 0, admin.stderr

    listing = semantik(running, "users", "list")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.split()[:2] == ["USERNAME", "EMAIL"]
    assert row(listing.stdout, "grace")[-3:-1] == ["user", "active"]
    assert row(listing.stdout, "alan")[-3:-1] == ["admin", "active"]

    body = {"username": "grace", "password": "a long pass 1"}
    assert httpx.post(f"{running.url}/api/v1/auth/login", json=body).status_code == 200
    assert semantik(running, "users", "disable", "grace").returncode == 0
    assert row(semantik(running, "users", "list").stdout, "grace")[-2] == "disabled"
    assert httpx.post(f"{running.url}/api/v1/auth/login", json=body).status_code in (401, 403)
    assert semantik(running, "users", "enable", "grace").returncode == 0
    assert httpx.post(f"{running.url}/api/v1/auth/login", json=body).status_code == 200

    unknown = semantik(running, "users", "disable", "nobody")
    assert unknown.returncode == 1 and "no user named 'nobody'" in unknown.stderr
