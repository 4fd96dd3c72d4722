"""The settings a cluster needs: several NATS servers in NATS_URL, and the streams'
replicas (SEMANTIK_STREAM_REPLICAS) that every process declares alike."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS
from pydantic import ValidationError
from semantik_runtime.bus import Bus, stream_configs
from semantik_runtime.settings import ServiceSettings, nats_servers

pytestmark = pytest.mark.unit

CLUSTER = "nats://nats-1:4222, nats://nats-2:4222,nats://nats-3:4222,"


def test_nats_url_lists_the_servers_of_a_cluster() -> None:
    assert nats_servers("nats://127.0.0.1:4222") == ["nats://127.0.0.1:4222"]
    assert nats_servers(CLUSTER) == [f"nats://nats-{n}:4222" for n in (1, 2, 3)]
    with pytest.raises(ValueError, match="no server"):
        nats_servers(" , ")


def test_a_service_refuses_a_nats_url_without_a_server() -> None:
    assert ServiceSettings(NATS_URL=CLUSTER).nats_url == CLUSTER  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="NATS_URL names no server"):
        ServiceSettings(NATS_URL=",")  # type: ignore[call-arg]


def test_stream_replicas_default_to_one_and_stay_within_a_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SEMANTIK_STREAM_REPLICAS", raising=False)
    assert ServiceSettings().stream_replicas == 1
    monkeypatch.setenv("SEMANTIK_STREAM_REPLICAS", "3")
    assert ServiceSettings().stream_replicas == 3
    for wrong in ("0", "6", "three"):
        monkeypatch.setenv("SEMANTIK_STREAM_REPLICAS", wrong)
        with pytest.raises(ValidationError, match="SEMANTIK_STREAM_REPLICAS"):
            ServiceSettings()


def test_both_streams_get_the_replicas(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [c.num_replicas for c in stream_configs()] == [1, 1]
    assert [c.num_replicas for c in stream_configs(replicas=3)] == [3, 3]
    # A bus without a number of its own takes its process's environment, as
    # ensure_streams takes the retention limits.
    monkeypatch.setenv("SEMANTIK_STREAM_REPLICAS", "3")
    assert Bus(NATS(), "test").replicas == 3
    assert Bus(NATS(), "test", replicas=2).replicas == 2
