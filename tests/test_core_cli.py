"""The core's operator commands: ``semantik projections rebuild`` and ``bench core``."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest
from collections_service.app import CollectionsService
from collections_service.application import CollectionsApplication
from semantik_contracts import commands
from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env

from semantik.bench_core import bench_core
from semantik.cli import main, rebuild_projections

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
    service = CollectionsService(app, bus, operation_timeout_seconds=3600)
    stop = asyncio.Event()
    await service.start(stop)
    await bus.nc.flush()
    try:
        args = argparse.Namespace(nats_url=nats_url, data_dir=tmp_path)
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
