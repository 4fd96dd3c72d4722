"""The core's operator commands (``semantik projections rebuild``, ``bench core``) and
how every CLI command answers a stopped system: at once, with a message and an exit code."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from collections_service.application import CollectionsApplication
from collections_service.bootstrap import build_collections_service
from semantik_contracts import commands
from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env

from semantik.bench_core import bench_core
from semantik.cli import main
from semantik.client import default_url
from semantik.rebuild import rebuild_projections
from tests.services import free_port

pytestmark = pytest.mark.integration


async def test_projections_rebuild_gives_the_same_answers(
    bus: Bus, nats_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = CollectionsApplication(env=event_store_env("collections", None, tmp_path))
    for name in ("a", "b"):
        view = app.create_collection(commands.CreateCollection(actor="u1", name=name))
    app.add_source(
        commands.AddSource(actor="u1", collection_id=view.id, path="/d"), "/d", "directory"
    )
    with pytest.raises(Exception, match="exists"):
        app.create_collection(commands.CreateCollection(actor="u1", name="a"))
    service = build_collections_service(app, bus, operation_timeout_seconds=3600)
    stop = asyncio.Event()
    await service.start(stop)
    await bus.nc.flush()
    try:
        # A cluster's NATS_URL, as compose sets it: a node that is down, then one up.
        cluster = f"nats://127.0.0.1:{free_port()},{nats_url}"
        args = argparse.Namespace(nats_url=cluster, data_dir=tmp_path)
        assert await rebuild_projections(args) == 0
    finally:
        stop.set()
        await service.close()
        app.close()
    out = capsys.readouterr().out
    assert "2 collections, 1 operations, 1 sources, 4 audit entries" in out
    assert "the same answers as before" in out


def test_projections_rebuild_without_a_running_semantik(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NATS_URL", raising=False)
    assert main(["projections", "rebuild", "--data-dir", str(tmp_path)]) == 2
    assert "no Semantik running" in capsys.readouterr().err


async def test_bench_core_measures_what_it_sent() -> None:
    result = await bench_core(None, collections=20, count=32, concurrency=4)
    assert result["store"] == "sqlite"
    # create, generation created and activated, update: four published events each.
    assert result["relay"]["events"] == 80
    assert result["commands"]["commands"] == 32
    assert result["relay_events_per_s"] > 0 and result["commands_per_s"] > 0


def test_a_stopped_system_is_reported_within_seconds_by_every_command(tmp_path: Path) -> None:
    """What a killed ``semantik run`` leaves behind (its nats.url, pid files of dead
    processes) is not followed; a gateway that is not there is refused at once."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "nats.url").write_text(f"nats://127.0.0.1:{free_port()}\n")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run_dir / "nats-server.pid").write_text(f"{dead.pid}\n")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "cli_credentials.json").write_text('{"username": "op", "password": "pw"}')
    url = f"http://127.0.0.1:{free_port()}"
    semantik = str(Path(sys.executable).parent / "semantik")
    client = ["--url", url, "--data-dir", str(tmp_path)]
    for command in (
        ["projections", "rebuild", "--data-dir", str(tmp_path)],
        ["search", "anything", "--collection", "c", *client],
        ["ingest", str(tmp_path), "--collection", "c", *client],
        ["users", "list", *client],
        ["bench", "api", "--seconds", "1", *client],
    ):
        started = time.monotonic()
        done = subprocess.run(
            [semantik, *command], capture_output=True, text=True, timeout=30, env={"PATH": ""}
        )
        assert time.monotonic() - started < 10, command
        assert done.returncode != 0, command
        assert "error:" in done.stderr and "Traceback" not in done.stderr, (command, done.stderr)
        assert "semantik run" in done.stderr, (command, done.stderr)


def test_without_the_local_account_the_cli_says_where_it_comes_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["users", "list", "--url", url, "--data-dir", str(tmp_path)]) == 2
    assert "the local operator account is created by `semantik run`" in capsys.readouterr().err


def test_the_client_follows_semantik_url_else_host_and_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SEMANTIK_URL", "SEMANTIK_HOST", "SEMANTIK_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert default_url() == "http://127.0.0.1:8080"
    monkeypatch.setenv("SEMANTIK_PORT", "9191")
    monkeypatch.setenv("SEMANTIK_HOST", "10.0.0.7")
    assert default_url() == "http://10.0.0.7:9191"
    monkeypatch.setenv("SEMANTIK_URL", "https://semantik.example")
    assert default_url() == "https://semantik.example"
