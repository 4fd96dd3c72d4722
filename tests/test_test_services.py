"""The tests' own rule (tests/services.py): they use servers they started or ones named
by ``SEMANTIK_TEST_*`` variables, and never delete what they did not create. A developer
whose shell points ``NATS_URL`` at a deployment keeps its streams."""

from __future__ import annotations

import pytest
from semantik_contracts.subjects import EVENTS_STREAM
from semantik_runtime.bus import Bus

from tests.services import (
    TEST_NATS_URL,
    ForeignStream,
    NatsServer,
    fresh_streams,
    nats_service,
    private_nats,
)

pytestmark = pytest.mark.integration


async def foreign_deployment(url: str) -> int:
    """Streams on ``url`` as a deployment holds them, with one event; its sequence."""
    bus = await Bus.connect(url, "deployment")
    try:
        await bus.ensure_streams()
        ack = await bus.js.publish("semantik.evt.test.x", b"{}", stream=EVENTS_STREAM)
        return int(ack.seq)
    finally:
        await bus.close()


async def stream_messages(url: str) -> int:
    bus = await Bus.connect(url, "inspector")
    try:
        return int((await bus.js.stream_info(EVENTS_STREAM)).state.messages)
    finally:
        await bus.close()


async def test_a_deployment_named_by_nats_url_is_never_used_nor_touched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with private_nats() as deployment:
        await foreign_deployment(deployment)
        monkeypatch.setenv("NATS_URL", deployment)
        monkeypatch.delenv(TEST_NATS_URL, raising=False)
        with nats_service() as server:
            assert server.owned and server.url != deployment
            bus = await Bus.connect(server.url, "test")
            try:
                await fresh_streams(bus, server)
            finally:
                await bus.close()
        assert await stream_messages(deployment) == 1


async def test_on_a_shared_server_only_streams_this_run_created_are_deleted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with private_nats() as shared:
        await foreign_deployment(shared)
        monkeypatch.setenv(TEST_NATS_URL, shared)
        with nats_service() as server:
            assert not server.owned and server.url == shared
            bus = await Bus.connect(server.url, "test")
            try:
                with pytest.raises(ForeignStream, match="did not create"):
                    await fresh_streams(bus, server)
            finally:
                await bus.close()
        assert await stream_messages(shared) == 1

    # Streams this run created itself are its own to empty.
    with private_nats() as shared:
        server = NatsServer(shared, owned=False)
        bus = await Bus.connect(shared, "test")
        try:
            await fresh_streams(bus, server)
            await bus.js.publish("semantik.evt.test.x", b"{}", stream=EVENTS_STREAM)
            await fresh_streams(bus, server)
            assert (await bus.js.stream_info(EVENTS_STREAM)).state.messages == 0
        finally:
            await bus.close()
