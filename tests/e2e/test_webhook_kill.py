"""Webhook delivery survives a SIGKILL of the delivering process (SPEC §13): ``semantik
run`` with its NATS users (the gateway delivers as the ``gateway`` user), a slow receiver
on loopback, the gateway killed while a collection's events are being delivered. The
supervisor starts it again, and every event of the collection arrives: none lost, in
stream order, a repeat allowed only with the same ``webhook-id``. Also ``semantik bench
webhooks``' measurement, on the same system."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.js import api
from nats.js.errors import NotFoundError
from semantik_contracts.subjects import EVENTS_STREAM, webhook_consumer_name
from semantik_runtime.nats_auth import OPERATOR, SUBSCRIBER
from standardwebhooks import Webhook

from semantik.bench_webhooks import Receiver, measure
from semantik.bench_webhooks import sign_in as operator_sign_in
from tests.e2e.conftest import RunningSystem, register, semantik_run
from tests.e2e.test_walking_skeleton import wait_operation, write_sources
from tests.reliability.faults import corpus, system_nats, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.reliability]

ACCOUNT = {"username": "hooked", "password": "correct horse battery"}


@pytest.fixture(scope="module")
def hooked_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    settings = {
        "SEMANTIK_WEBHOOK_ALLOW_PRIVATE": "true",
        "SEMANTIK_WEBHOOK_RETRY_BASE_SECONDS": "0.1",
        "SEMANTIK_WEBHOOK_RETRY_MAX_SECONDS": "1",
        # The event a killed gateway held comes back after ack_wait (their max + 5 s).
        "SEMANTIK_WEBHOOK_TIMEOUT_SECONDS": "2",
        "GATEWAY_REQUEST_TIMEOUT_SECONDS": "2",
    }
    with semantik_run(tmp_path_factory.mktemp("hooked"), **settings) as running:
        yield running


async def stream_event_ids(system: RunningSystem, collection_id: str) -> list[str]:
    """The body's ``event_id`` of every message of the collection in SEMANTIK_EVENTS, in
    stream order (a heal replay would repeat one under another ``Nats-Msg-Id``)."""
    nc = await system_nats(system, SUBSCRIBER, connect_timeout=5, max_reconnect_attempts=20)
    try:
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.ALL,
            ack_policy=api.AckPolicy.NONE,
            inactive_threshold=30.0,
        )
        consumer = await nc.jetstream().pull_subscribe(
            f"semantik.evt.{collection_id}.>", stream=EVENTS_STREAM, config=config
        )
        found: list[str] = []
        while (await consumer.consumer_info()).num_pending:
            for msg in await consumer.fetch(500, timeout=5):
                found.append(json.loads(msg.data)["event_id"])
        await consumer.unsubscribe()
        return list(dict.fromkeys(found))
    finally:
        await nc.close()


async def test_a_killed_gateway_loses_no_delivery(hooked_system: RunningSystem) -> None:
    system = hooked_system
    async with (
        httpx.AsyncClient(base_url=system.url, timeout=60) as client,
        Receiver(delay=0.02) as receiver,
    ):
        assert await register(client, ACCOUNT) == 201
        login = await client.post("/api/v1/auth/login", json=ACCOUNT)
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        made = await client.post(
            "/api/v2/webhooks", json={"url": receiver.url, "events": ["*"]}, headers=headers
        )
        assert made.status_code == 201, made.text
        hook = made.json()
        created = await client.post("/api/v2/collections", json={"name": "kept"}, headers=headers)
        cid = created.json()["id"]

        def ours() -> list[Any]:
            return [a for a in receiver.arrivals if a.json()["collection_id"] == cid]

        folder = write_sources(system.sources / "kept", corpus(24, 120, "kept"))
        added = await client.post(
            f"/api/v2/collections/{cid}/sources", json={"path": str(folder)}, headers=headers
        )
        assert added.status_code == 202, added.text
        await receiver.wait_for(lambda _: len(ours()) >= 5, 120)
        victim = system.pid("gateway")
        os.kill(victim, signal.SIGKILL)
        before_kill = len(ours())
        deadline = time.monotonic() + 60
        while system.pid("gateway") == victim:  # the supervisor starts it again
            assert time.monotonic() < deadline, "the gateway was not restarted"
            await asyncio.sleep(0.1)
        await wait_ready(client)
        op = await wait_operation(client, headers, added.json()["operation"]["id"], timeout=300)
        assert op["status"] == "completed", op
        expected = await stream_event_ids(system, cid)

        def all_arrived(_: Any) -> bool:
            return {a.headers["webhook-id"] for a in ours()} >= set(expected)

        await receiver.wait_for(all_arrived, 120)
        await asyncio.sleep(1.0)  # anything more that was on its way
        arrivals = ours()

    assert before_kill < len(expected), "the kill came after the last delivery"
    verify = Webhook(hook["secret"])
    for arrival in arrivals:
        assert verify.verify(arrival.body, arrival.headers)["id"] == arrival.headers["webhook-id"]
    counts = Counter(a.headers["webhook-id"] for a in arrivals)
    lost = set(expected) - set(counts)
    repeated = sum(n - 1 for n in counts.values())
    print(
        f"\nwebhook deliveries across a gateway SIGKILL: {len(expected)} events, "
        f"{len(lost)} lost, {repeated} repeated (each with the webhook-id of its first delivery), "
        f"{before_kill} delivered before the kill"
    )
    assert lost == set()
    assert set(counts) == set(expected)
    first_order = list(dict.fromkeys(a.headers["webhook-id"] for a in arrivals))
    assert first_order == expected, "deliveries out of the stream's order"

    # Deleting the webhook deletes its consumer, as the gateway's NATS user may.
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        login = await client.post("/api/v1/auth/login", json=ACCOUNT)
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        log = await client.get(f"/api/v2/webhooks/{hook['id']}/deliveries", headers=headers)
        assert log.status_code == 200 and len(log.json()) == min(50, len(expected)), log.text
        assert {d["status"] for d in log.json()} == {"delivered"}
        deleted = await client.delete(f"/api/v2/webhooks/{hook['id']}", headers=headers)
        assert deleted.status_code == 204
    nc = await system_nats(system, OPERATOR)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                await nc.jetstream().consumer_info(EVENTS_STREAM, webhook_consumer_name(hook["id"]))
            except NotFoundError:
                break
            assert time.monotonic() < deadline, "the webhook's consumer outlived it"
            await asyncio.sleep(0.2)
    finally:
        await nc.close()


async def test_the_benchmark_measures_delivery_latency(hooked_system: RunningSystem) -> None:
    async with (
        httpx.AsyncClient(base_url=hooked_system.url, timeout=60) as client,
        Receiver() as receiver,
    ):
        await operator_sign_in(client, hooked_system.data_dir)
        folder: Path = hooked_system.sources / "bench-webhooks"
        result = await measure(client, receiver, folder, documents=2, timeout=120)
    print(f"\nbench webhooks (2 documents): {result}")
    assert result["operation"] == "completed"
    assert result["deliveries"] > 5
    assert 0 < result["latency_p50_ms"] <= result["latency_p95_ms"]
