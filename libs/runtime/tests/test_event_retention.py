"""SEMANTIK_EVENTS keeps events for a time (SPEC §14): its limits are settings, applied to
a new stream and to one that exists, and the outbox relay's heal tells the events the
limits removed on purpose (never published again) from those the stream lost."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from collections_service.application import CollectionsApplication
from nats.js import api
from pydantic import ValidationError
from semantik_contracts import commands
from semantik_contracts.subjects import DUPLICATE_WINDOW_SECONDS, EVENTS_STREAM, WORK_STREAM
from semantik_runtime.bus import Bus, stream_configs
from semantik_runtime.eventstore import event_store_env
from semantik_runtime.relay import OutboxRelay
from semantik_runtime.retention import EventRetention
from semantik_runtime.settings import EventRetentionSettings, ServiceSettings

DAY = 86400


@pytest.mark.unit
def test_the_retention_is_read_from_the_environment_and_unlimited_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SEMANTIK_EVENTS_MAX_AGE_DAYS", raising=False)
    monkeypatch.delenv("SEMANTIK_EVENTS_MAX_BYTES", raising=False)
    assert EventRetention.from_settings(EventRetentionSettings()) == EventRetention(0, 0)
    monkeypatch.setenv("SEMANTIK_EVENTS_MAX_AGE_DAYS", "7")
    monkeypatch.setenv("SEMANTIK_EVENTS_MAX_BYTES", "20GiB")
    assert EventRetention.from_settings(ServiceSettings()) == EventRetention(7 * DAY, 20 << 30)


@pytest.mark.unit
@pytest.mark.parametrize("deployment", ["compose.yaml", "deploy/k8s/base/kustomization.yaml"])
def test_deployments_keep_events_a_month(deployment: str) -> None:
    text = (Path(__file__).parents[3] / deployment).read_text()
    default = r"SEMANTIK_EVENTS_MAX_AGE_DAYS[=:] *(\$\{SEMANTIK_EVENTS_MAX_AGE_DAYS:-)?30\b"
    assert re.search(default, text), deployment


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("SEMANTIK_EVENTS_MAX_AGE_DAYS", "0.5", "between 1 and 36500 days"),
        ("SEMANTIK_EVENTS_MAX_AGE_DAYS", "-1", "between 1 and 36500 days"),
        ("SEMANTIK_EVENTS_MAX_AGE_DAYS", "nan", "between 1 and 36500 days"),
        ("SEMANTIK_EVENTS_MAX_AGE_DAYS", "a month", "valid number"),
        ("SEMANTIK_EVENTS_MAX_BYTES", "1MB", "at least 64MiB"),
        ("SEMANTIK_EVENTS_MAX_BYTES", "-5", "could not parse"),
        ("SEMANTIK_EVENTS_MAX_BYTES", "lots", "could not parse"),
    ],
)
def test_a_bad_retention_stops_every_service_at_start_saying_why(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        ServiceSettings()
    assert name in str(refused.value) and said in str(refused.value)


@pytest.mark.unit
def test_an_age_limit_shorter_than_the_duplicate_window_shortens_the_window() -> None:
    events, work = stream_configs(EventRetention(max_age_seconds=2))
    assert events.max_age == 2 and events.duplicate_window == 2
    assert work.duplicate_window == DUPLICATE_WINDOW_SECONDS and not work.max_age


@pytest.fixture
async def bus(private_nats_url: str) -> AsyncIterator[Bus]:
    """A server of this test's own: its stream's limits are the test's to change."""
    connection = await Bus.connect(private_nats_url, "test")
    yield connection
    await connection.close()


@pytest.mark.integration
async def test_the_stream_is_created_with_the_limits_and_an_existing_one_updated(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stream from before retention: no limits at all.
    await bus.js.add_stream(
        api.StreamConfig(
            name=EVENTS_STREAM,
            subjects=["semantik.evt.>"],
            storage=api.StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )
    )
    monkeypatch.setenv("SEMANTIK_EVENTS_MAX_AGE_DAYS", "14")
    monkeypatch.setenv("SEMANTIK_EVENTS_MAX_BYTES", "1GiB")
    await bus.ensure_streams()  # as every process does at start, from its environment
    config = (await bus.js.stream_info(EVENTS_STREAM)).config
    assert (config.max_age, config.max_bytes) == (14 * DAY, 1 << 30)
    assert config.discard == api.DiscardPolicy.OLD  # the oldest go, a publish never fails
    await bus.js.delete_stream(EVENTS_STREAM)
    await bus.ensure_streams(EventRetention(max_age_seconds=3 * DAY))  # created with them
    config = (await bus.js.stream_info(EVENTS_STREAM)).config
    assert (config.max_age, config.max_bytes) == (3 * DAY, -1)
    assert not (await bus.js.stream_info(WORK_STREAM)).config.max_age


async def settled(done: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not done():  # noqa: ASYNC110 - the relay offers no event to wait on
            await asyncio.sleep(0.05)


@pytest.mark.integration
async def test_the_relay_heals_what_the_stream_lost_but_not_what_its_limits_removed(
    bus: Bus, tmp_path: Path
) -> None:
    """The stream keeps 4 events (a count limit stands for the age or size limit of a
    deployment): of the 9 the relay published, 5 are removed on purpose. Its checks do
    not take that for a loss, and a replay (the stall watchdog's) publishes nothing
    again. A purge is a loss: the relay publishes again what the stream lacks, once."""
    await bus.ensure_streams(EventRetention(max_age_seconds=0, max_msgs=4))
    app = CollectionsApplication(env=event_store_env("collections", "", tmp_path))
    for name in ("a", "b", "c"):  # three events each
        app.create_collection(commands.CreateCollection(actor="u1", name=name))
    relay = OutboxRelay(app, bus, poll_interval=0.05, verify_interval=0.1)
    stop = asyncio.Event()
    runner = asyncio.create_task(relay.run(stop))
    try:
        await settled(lambda: relay.position() == app.recorder.max_notification_id())
        state = (await bus.js.stream_info(EVENTS_STREAM)).state
        assert (state.messages, state.first_seq, state.last_seq) == (4, 6, 9)
        await asyncio.sleep(0.5)  # several checks: the first five are not missed
        relay.replay()  # the whole log against the stream, as a stalled operation asks
        await settled(lambda: relay.expired == 5)
        await asyncio.sleep(0.3)
        assert relay.replayed == 0
        assert (await bus.js.stream_info(EVENTS_STREAM)).state.last_seq == 9

        await bus.js.purge_stream(EVENTS_STREAM)  # lost: below its limits, and empty
        await settled(lambda: relay.replayed == 9)
        await asyncio.sleep(0.5)  # and what its limits then remove is not lost again
        assert relay.replayed == 9
        state = (await bus.js.stream_info(EVENTS_STREAM)).state
        assert (state.messages, state.last_seq) == (4, 18)
    finally:
        stop.set()
        relay.wake()
        await runner
        app.close()


@pytest.mark.integration
async def test_events_older_than_the_age_limit_are_not_published_again(
    bus: Bus, tmp_path: Path
) -> None:
    await bus.ensure_streams(EventRetention(max_age_seconds=1))
    app = CollectionsApplication(env=event_store_env("collections", "", tmp_path))
    app.create_collection(commands.CreateCollection(actor="u1", name="old"))
    relay = OutboxRelay(app, bus, poll_interval=0.05, verify_interval=0.1)
    stop = asyncio.Event()
    runner = asyncio.create_task(relay.run(stop))
    try:
        await settled(lambda: relay.position() == app.recorder.max_notification_id())
        await asyncio.sleep(2.0)  # aged out: the stream is empty, on purpose
        assert (await bus.js.stream_info(EVENTS_STREAM)).state.messages == 0
        relay.replay()
        await settled(lambda: relay.expired == 3)
        assert relay.replayed == 0
        app.create_collection(commands.CreateCollection(actor="u1", name="new"))
        relay.wake()
        await settled(lambda: relay.position() == app.recorder.max_notification_id())
        assert (await bus.js.stream_info(EVENTS_STREAM)).state.messages == 3
    finally:
        stop.set()
        relay.wake()
        await runner
        app.close()
