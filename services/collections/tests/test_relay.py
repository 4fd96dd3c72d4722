"""The outbox relay publishes every event exactly once, even when killed mid-way."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import sys
from pathlib import Path

import pytest
from collections_service.application import CollectionsApplication
from eventsourcing.persistence import IntegrityError
from nats.js.api import ConsumerConfig, DeliverPolicy, StreamConfig
from semantik_contracts import EventEnvelope, commands
from semantik_contracts.subjects import EVENTS_STREAM, EVENTS_SUBJECTS
from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env
from semantik_runtime.relay import OutboxRelay, envelope_for

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str:
    """The event store the relay follows: "" for SQLite, else a PostgreSQL URL."""
    if request.param == "sqlite":
        return ""
    url: str = request.getfixturevalue("database_url")
    return url


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


async def stream_events(bus: Bus) -> list[tuple[str | None, EventEnvelope]]:
    sub = await bus.js.pull_subscribe(
        EVENTS_SUBJECTS,
        stream=EVENTS_STREAM,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    found = []
    info = await bus.js.stream_info(EVENTS_STREAM)
    while len(found) < info.state.messages:
        for msg in await sub.fetch(100, timeout=2):
            found.append(
                (
                    (msg.headers or {}).get("Nats-Msg-Id"),
                    EventEnvelope.model_validate_json(msg.data),
                )
            )
            await msg.ack()
    await sub.unsubscribe()
    return found


async def test_relay_killed_between_publish_and_tracking_duplicates_nothing(
    bus: Bus, tmp_path: Path, store_url: str
) -> None:
    app = CollectionsApplication(env=event_store_env("collections", store_url, tmp_path))
    for name in ("a", "b", "c"):
        view = app.create_collection(commands.CreateCollection(actor="u1", name=name))
        app.update_collection(
            commands.UpdateCollection(actor="u1", collection_id=view.id, description="d")
        )

    first = OutboxRelay(app, bus, batch=4)

    def kill(*_: object) -> None:
        raise Killed

    first.tracking.insert_tracking = kill  # type: ignore[method-assign]
    with pytest.raises(Killed):
        await first.publish_pending()
    assert first.position() == 0  # it published, but recorded nothing

    restarted = OutboxRelay(app, bus, batch=4)
    stop = asyncio.Event()
    runner = asyncio.create_task(restarted.run(stop))
    expected = [n.id for n in app.recorder.select_notifications(1, 1000)]
    for _ in range(1200):
        if restarted.position() == expected[-1]:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await runner

    published = await stream_events(bus)
    ids = [msg_id for msg_id, _ in published]
    assert len(ids) == len(set(ids)), "an event appears twice in the stream"
    # Every contract event of the log is there, in log order; bookkeeping events are not.
    types = [envelope.type for _, envelope in published]
    assert (
        types
        == ["CollectionCreated", "GenerationCreated", "GenerationActivated", "CollectionUpdated"]
        * 3
    )
    assert all(msg_id == envelope.event_id for msg_id, envelope in published)
    assert published[0][1].subject.startswith(
        f"semantik.evt.{published[0][1].aggregate_id}.collection."
    )
    app.close()


#: A relay process that publishes everything and is SIGKILLed before it records where
#: it got to: its tracking write stops at the marker until the test kills it.
RELAY_PROCESS = """
import asyncio, pathlib, sys, time
from collections_service.application import CollectionsApplication
from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env
from semantik_runtime.relay import OutboxRelay

async def main(nats_url, store_url, data_dir, marker):
    env = event_store_env("collections", store_url, pathlib.Path(data_dir))
    app = CollectionsApplication(env=env)
    bus = await Bus.connect(nats_url, "relay")
    relay = OutboxRelay(app, bus, batch=10_000)

    def held(_tracking):
        pathlib.Path(marker).write_text("published")
        time.sleep(600)

    relay.tracking.insert_tracking = held
    await relay.publish_pending()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_relay_sigkilled_after_publishing_past_the_duplicate_window(
    bus: Bus, nats_url: str, tmp_path: Path, store_url: str
) -> None:
    """Nats-Msg-Id de-duplicates only within the stream's duplicate window; a relay down
    for longer must still publish each event once. The window here is one second."""
    info = await bus.js.stream_info(EVENTS_STREAM)
    config: StreamConfig = info.config
    await bus.js.update_stream(dataclasses.replace(config, duplicate_window=1.0))
    app = CollectionsApplication(env=event_store_env("collections", store_url, tmp_path))
    for user in range(5):
        for name in ("a", "b", "c"):
            view = app.create_collection(commands.CreateCollection(actor=f"u{user}", name=name))
            app.update_collection(
                commands.UpdateCollection(actor=f"u{user}", collection_id=view.id, description="d")
            )
    app.close()

    marker = tmp_path / "published"
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", RELAY_PROCESS, nats_url, store_url, str(tmp_path), str(marker)
    )
    try:
        for _ in range(600):
            if marker.exists() or child.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert marker.exists(), "the relay process did not publish"
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    await asyncio.sleep(1.5)  # past the duplicate window: Nats-Msg-Id alone would not help now

    app = CollectionsApplication(env=event_store_env("collections", store_url, tmp_path))
    restarted = OutboxRelay(app, bus, batch=50)
    assert restarted.position() == 0  # the killed relay recorded nothing
    while await restarted.publish_pending():
        pass
    log = [
        envelope_for(app.mapper.to_domain_event(n))
        for n in app.recorder.select_notifications(1, 10_000)
    ]
    expected = [e.event_id for e in log if e is not None]
    published = await stream_events(bus)
    ids = [msg_id for msg_id, _ in published]
    assert len(expected) == 60
    assert ids == expected  # each once, none missing, in log order
    app.close()


async def test_a_save_woken_while_the_relay_reads_the_log_is_published_without_a_poll(
    bus: Bus, tmp_path: Path
) -> None:
    """A save (and its wake-up) that lands while the relay is reading the log is
    published next, not a poll interval later: here the interval is an hour."""
    app = CollectionsApplication(env=event_store_env("collections", "", tmp_path))
    relay = OutboxRelay(app, bus, poll_interval=3600.0)
    read = relay.publish_pending
    saved = asyncio.Event()

    async def saved_during_the_first_read() -> int:
        published = await read()
        if not saved.is_set():  # the log was empty when read; then a save wakes the relay
            app.create_collection(commands.CreateCollection(actor="u1", name="late"))
            relay.wake()
            saved.set()
        return published

    relay.publish_pending = saved_during_the_first_read  # type: ignore[method-assign]
    stop = asyncio.Event()
    runner = asyncio.create_task(relay.run(stop))
    try:
        await saved.wait()
        expected = app.recorder.max_notification_id()
        for _ in range(600):
            if relay.position() == expected:
                break
            await asyncio.sleep(0.05)
        assert relay.position() == expected, "the save waited for the next poll"
    finally:
        stop.set()
        relay.wake()
        await runner
    published = [envelope.type for _, envelope in await stream_events(bus)]
    assert published == ["CollectionCreated", "GenerationCreated", "GenerationActivated"]
    app.close()


@pytest.mark.reliability
async def test_a_relay_that_finds_its_events_gone_from_the_stream_publishes_them_again(
    bus: Bus, tmp_path: Path
) -> None:
    """JetStream may lose what it acknowledged (a purge here): the relay notices that its
    last event is gone, publishes again exactly what the stream lacks, under message ids
    the duplicate window (which a purge keeps) does not drop, and nothing twice."""
    app = CollectionsApplication(env=event_store_env("collections", "", tmp_path))
    before = [
        app.create_collection(commands.CreateCollection(actor="u1", name=name)).id
        for name in ("a", "b")
    ]
    relay = OutboxRelay(app, bus, poll_interval=0.05, verify_interval=0.1)
    stop = asyncio.Event()
    runner = asyncio.create_task(relay.run(stop))
    try:
        for _ in range(200):
            if relay.position() == app.recorder.max_notification_id():
                break
            await asyncio.sleep(0.05)
        await bus.js.purge_stream(EVENTS_STREAM)
        after = app.create_collection(commands.CreateCollection(actor="u1", name="c")).id
        relay.wake()
        for _ in range(200):
            if relay.replayed and relay.position() == app.recorder.max_notification_id():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # more checks find nothing missing: nothing is doubled
    finally:
        stop.set()
        relay.wake()
        await runner
    published = await stream_events(bus)
    log = [
        envelope_for(app.mapper.to_domain_event(n))
        for n in app.recorder.select_notifications(1, 10_000)
    ]
    expected = {e.event_id for e in log if e is not None}
    assert sorted(envelope.event_id for _, envelope in published) == sorted(expected)
    assert relay.replayed == 6  # three events of each of the two collections before
    for msg_id, envelope in published:
        if envelope.aggregate_id in before:
            assert msg_id.startswith(f"{envelope.event_id}:replay-")
        else:
            assert envelope.aggregate_id == after and msg_id == envelope.event_id
    app.close()


async def test_a_replicas_relay_that_records_second_does_not_fail(
    bus: Bus, tmp_path: Path, store_url: str
) -> None:
    """Two replicas' relays follow one log: both publish a batch (the stream drops the
    second copy by its id) and the second to record its position finds it recorded,
    which is no failure; a refusal while the position is behind still is."""
    app = CollectionsApplication(env=event_store_env("collections", store_url, tmp_path))
    app.create_collection(commands.CreateCollection(actor="u1", name="replicated"))
    one, two = OutboxRelay(app, bus, batch=100), OutboxRelay(app, bus, batch=100)
    assert await one.publish_pending() > 0
    last = one.position()
    two._record(last)  # the race lost: the same position
    two._record(last - 1)
    assert two.position() == last

    def refused(_tracking: object) -> None:
        raise IntegrityError("refused")

    two.tracking.insert_tracking = refused  # type: ignore[method-assign]
    with pytest.raises(IntegrityError):
        two._record(last + 1)
    app.close()
