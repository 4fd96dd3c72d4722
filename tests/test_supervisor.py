"""``semantik run``'s process table and its restarts (real OS processes, no services)."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from semantik.settings import RunSettings
from semantik.supervisor import Child, StartError, Supervisor, run

pytestmark = pytest.mark.unit


def names(supervisor: Supervisor) -> dict[str, list[str]]:
    return {child.name: child.pid_names for child in supervisor.children}


def test_embedded_default_hosts_embedder_and_search_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NATS_URL", "QDRANT_URL", "DATABASE_URL"):  # a developer's shell may set them
        monkeypatch.delenv(name, raising=False)
    supervisor = Supervisor(RunSettings(data_dir=tmp_path))
    supervisor.plan()
    assert names(supervisor) == {
        "collections": ["collections"],
        "ingest": ["ingest"],
        "vector-host": ["embedder", "search"],
        "gateway": ["gateway"],
    }
    assert supervisor.nats is not None  # no NATS_URL: it starts its own
    env = supervisor.children[0].env
    assert env["NATS_URL"].startswith("nats://127.0.0.1:")
    assert env["SEMANTIK_SOURCE_ROOTS"] == str(tmp_path.resolve() / "sources")  # no home dir
    assert "QDRANT_URL" not in env and "DATABASE_URL" not in env
    # Each process a name of its own that a restart keeps (its leases are taken back),
    # and that another data dir's `semantik run` on this host never has.
    replicas = {child.name: child.env["SEMANTIK_REPLICA_NAME"] for child in supervisor.children}
    assert len(set(replicas.values())) == len(replicas)
    assert replicas["ingest"].startswith("ingest@")
    supervisor.plan()
    assert supervisor.children[1].env["SEMANTIK_REPLICA_NAME"] == replicas["ingest"]
    (tmp_path / "other").mkdir()
    elsewhere = Supervisor(RunSettings(data_dir=tmp_path / "other"))
    elsewhere.plan()
    assert elsewhere.children[1].env["SEMANTIK_REPLICA_NAME"] != replicas["ingest"]


def test_with_external_services_embedder_and_search_run_apart(tmp_path: Path) -> None:
    settings = RunSettings(
        data_dir=tmp_path,
        nats_url="nats://nats:4222",
        qdrant_url="http://qdrant:6333",
        database_url="postgresql://u@db/semantik",
    )
    supervisor = Supervisor(settings)
    supervisor.plan()
    assert supervisor.nats is None
    assert names(supervisor)["embedder"] == ["embedder"]
    assert names(supervisor)["search"] == ["search"]
    env = supervisor.children[0].env
    assert (env["NATS_URL"], env["QDRANT_URL"], env["DATABASE_URL"]) == (
        "nats://nats:4222",
        "http://qdrant:6333",
        "postgresql://u@db/semantik",
    )


def test_a_process_that_dies_is_restarted_and_its_pid_file_follows(tmp_path: Path) -> None:
    supervisor = Supervisor(RunSettings(data_dir=tmp_path))
    supervisor.run_dir.mkdir(parents=True)
    supervisor.log_dir.mkdir(parents=True)
    child = Child("short", [sys.executable, "-c", "pass"], ["short", "alias"], {})
    supervisor.children = [child]
    supervisor.spawn(child)
    first = child.process
    assert first is not None
    first.wait(10)
    deadline = time.monotonic() + 10
    while child.restarts == 0 and time.monotonic() < deadline:
        supervisor.watch_once()
        time.sleep(0.05)
    assert child.restarts == 1
    assert child.process is not None and child.process.pid != first.pid
    for name in ("short", "alias"):
        assert (supervisor.run_dir / f"{name}.pid").read_text().strip() == str(child.process.pid)
    supervisor.stop()
    assert not list(supervisor.run_dir.glob("*.pid"))


def test_a_taken_port_or_a_second_instance_is_refused_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run(RunSettings(data_dir=tmp_path / "a", port=port)) == 1
        assert f"cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err
    first = Supervisor(RunSettings(data_dir=tmp_path / "b", port=port))
    first.preflight()
    with pytest.raises(StartError, match="another `semantik run` already uses"):
        Supervisor(RunSettings(data_dir=tmp_path / "b", port=port)).preflight()
