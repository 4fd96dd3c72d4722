"""``semantik run`` gives every process its own NATS user and starts the server with the
generated users (issue 22); an external server's credentials come from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from semantik.nats_secrets import local_credentials
from semantik.settings import RunSettings
from semantik.supervisor import Supervisor

pytestmark = pytest.mark.unit


def test_each_process_connects_as_its_own_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NATS_URL", "QDRANT_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NATS_USER", "from-the-shell")  # never inherited by our own server
    supervisor = Supervisor(RunSettings(data_dir=tmp_path))
    supervisor.plan()
    assert supervisor.nats is not None
    argv = supervisor.nats.argv
    config = Path(argv[argv.index("-c") + 1])
    assert config == tmp_path.resolve() / "secrets" / "nats.conf"
    text = config.read_text()
    for child in supervisor.children:
        env = child.env
        assert env["NATS_USER"] == child.name  # vector-host: the embedder and search in one
        found = local_credentials(tmp_path.resolve(), child.name)
        assert found is not None and env["NATS_PASSWORD"] == found.password
        assert f'user: "{child.name}"' in text and f'"{found.password}"' in text
    passwords = [c.env["NATS_PASSWORD"] for c in supervisor.children]
    assert len(set(passwords)) == len(passwords)

    again = Supervisor(RunSettings(data_dir=tmp_path))
    again.plan()  # the next start: the same passwords
    assert [c.env["NATS_PASSWORD"] for c in again.children] == passwords


def test_an_external_server_takes_the_credentials_of_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NATS_USER", "deployment-user")
    monkeypatch.setenv("NATS_PASSWORD", "deployment-password")
    supervisor = Supervisor(RunSettings(data_dir=tmp_path, nats_url="nats://nats:4222"))
    supervisor.plan()
    assert supervisor.nats is None
    assert not (tmp_path / "secrets" / "nats.conf").exists()
    for child in supervisor.children:
        assert child.env["NATS_USER"] == "deployment-user"
        assert child.env["NATS_PASSWORD"] == "deployment-password"
