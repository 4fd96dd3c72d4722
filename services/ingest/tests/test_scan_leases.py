"""Each scan is run by exactly one ingest replica (SPEC §14): its lease decides which,
and another replica takes a dead one's scans over once their leases lapse.

Two replicas here share one PostgreSQL event store and one private NATS server, as
deployed replicas do; a short lease keeps the takeovers quick.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from ingest_service.app import IngestService
from ingest_service.application import IngestApplication
from ingest_service.bootstrap import build_ingest_service
from ingest_service.indexing.files import FIRST_FILES
from ingest_service.leases import Leases
from ingest_service.sources.roots import SourceRoots
from ingest_service.sources.uploaded import UploadedFiles
from semantik_contracts import EventEnvelope
from semantik_contracts.events import OperationCancelled
from semantik_contracts.sync import SCAN_LEASES_BUCKET
from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env

from services.ingest.tests.harness import Harness
from services.ingest.tests.scans import doc_id, kinds, stats_of
from tests.waiting import eventually

pytestmark = pytest.mark.integration

Starter = Callable[..., Awaitable["Replica"]]
#: The lease of these tests' replicas: renewed every 0.5 s, looked at every 0.75 s.
TTL = 1.5


class Replica:
    """One ingest replica: its own bus connection, application and lease owner."""

    def __init__(
        self, h: Harness, database_url: str, name: str, max_pending: int, deaf: bool
    ) -> None:
        self.h = h
        #: Its durable consumer of the endings acks them without acting on them.
        self.deaf = deaf
        self.database_url = database_url
        self.name = name
        self.max_pending = max_pending
        self.stop = asyncio.Event()
        self.closed = False

    async def start(self) -> IngestService:
        self.bus = await Bus.connect(self.h.nats_url, "ingest")
        self.app = IngestApplication(
            env=event_store_env("ingest", self.database_url, self.h.data_dir / self.name)
        )
        self.service = build_ingest_service(
            self.app,
            self.bus,
            SourceRoots([self.h.root]),
            self.h.pool,
            UploadedFiles(self.bus, self.h.data_dir / self.name / "uploads"),
            max_file_bytes=1 << 20,
            embed_max_pending=self.max_pending,
            scan_lease_seconds=TTL,
            owner=self.name,
        )
        if self.deaf:

            async def ignore(_: EventEnvelope) -> None:
                return None

            self.service.on_operation_ended = ignore  # type: ignore[method-assign,assignment]
        await self.service.start(self.stop)
        return self.service

    def die(self) -> None:
        """From now on it gives nothing back: its leases lapse by their ttl alone."""

        async def nothing(_: UUID) -> None:
            return None

        self.service.scans.claims.release = nothing  # type: ignore[method-assign,assignment]

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.stop.set()
        await self.service.close()
        await self.bus.close()
        self.app.close()


@pytest.fixture
async def replicas(harness: Harness, database_url: str) -> AsyncIterator[Starter]:
    started: list[Replica] = []

    async def replica(name: str, max_pending: int = 2000, deaf: bool = False) -> Replica:
        started.append(Replica(harness, database_url, name, max_pending, deaf))
        await started[-1].start()
        return started[-1]

    yield replica
    for each in started:
        await each.close()


async def holder(h: Harness, operation_id: UUID) -> str | None:
    """Who holds the scan's lease now, by the bucket."""
    kv = await h.bus.js.key_value(SCAN_LEASES_BUCKET)
    try:
        entry = await kv.get(f"scan.{operation_id}")
    except Exception:
        return None
    return entry.value.decode() if entry.value else None


def folder(h: Harness, name: str, count: int) -> tuple[Path, list[str]]:
    docs = h.root / name
    docs.mkdir()
    texts = [f"Document {n} of {name} is about topic {n * 11}.\n" for n in range(count)]
    for n, text in enumerate(texts):
        (docs / f"{n}.txt").write_text(text)
    return docs, texts


async def stuck_at_the_gate(h: Harness, replica: Replica, registered: int) -> None:
    """The replica's scan published one chunk and waits for room (no embedder)."""

    async def waiting() -> bool:
        return await h.waiting_work() == 1 and len(replica.app.registry.documents) >= registered

    await eventually(waiting)


async def test_a_lease_is_held_by_one_and_lapses_when_its_holder_stops_renewing(
    private_nats_url: str,
) -> None:
    bus = await Bus.connect(private_nats_url, "test")
    bucket = f"TEST_LEASES_{uuid4().hex[:8]}"

    def leases(owner: str) -> Leases:
        return Leases(bus, owner, 1.0, bucket=bucket, prefix="scan", description="test")

    first, second = leases("first"), leases("second")
    scan = uuid4()
    try:
        assert await first.hold(scan)
        assert not await second.hold(scan)  # refused while the first holds it
        assert await first.hold(scan)  # renewed
        await first.release(scan)
        assert await second.hold(scan)  # given back: taken at once
        # The second stops renewing (it died): the lease lapses after its ttl.
        assert not await first.hold(scan)
        await asyncio.sleep(1.3)
        assert await first.hold(scan)
        assert not await second.hold(scan)  # its renewal is refused: lost
        assert scan not in second.held
        # A lease of another ttl follows the bucket's: it would lapse held otherwise.
        longer = Leases(bus, "third", 5.0, bucket=bucket, prefix="scan", description="test")
        assert not await longer.hold(scan)
        assert longer.ttl == 1.0
    finally:
        await bus.close()


async def test_a_restarted_replica_takes_its_own_leases_back_at_once(
    private_nats_url: str,
) -> None:
    """A replica named across restarts (SEMANTIK_REPLICA_NAME) that died holding a lease
    takes it back at its next start; another replica does not, and the earlier run's
    stale revision is refused."""
    bus = await Bus.connect(private_nats_url, "test")
    bucket = f"TEST_LEASES_{uuid4().hex[:8]}"

    def leases(owner: str) -> Leases:
        return Leases(bus, owner, 60.0, bucket=bucket, prefix="scan", description="test")

    scan = uuid4()
    try:
        died = leases("ingest@host")
        assert await died.hold(scan)  # then it is killed: the lease stays for 60 s
        other = leases("ingest@elsewhere")
        assert not await other.hold(scan)
        again = leases("ingest@host")  # the same replica, started again
        assert await again.hold(scan)
        assert not await died.hold(scan)  # the earlier run's revision is stale: refused
        assert await again.hold(scan)  # and the new run renews it
        assert not await other.hold(scan)
        await again.release(scan)
        assert await other.hold(scan)  # given back: anyone's
    finally:
        await bus.close()


async def test_a_dead_replicas_scan_is_taken_over_and_completes_once(
    harness: Harness, replicas: Starter
) -> None:
    h = harness
    docs, texts = folder(h, "takeover", 5)
    first = await replicas("first", 1)  # room for one chunk and no embedder: it waits
    operation_id = await h.request([await h.add_source(docs)])
    await stuck_at_the_gate(h, first, FIRST_FILES)  # its first batch registered, the rest not
    await replicas("second", 2000)
    await asyncio.sleep(TTL)  # the second looks at the open scan, and is refused
    assert await holder(h, operation_id) == "first"
    first.die()
    await first.close()  # mid-scan, its lease still in the bucket
    died = time.monotonic()
    events = await h.scan_events(operation_id, timeout=20)
    assert time.monotonic() - died >= TTL * 0.5  # not before the lease lapsed
    assert kinds(events) == {"ScanStarted": 1, "DocumentRegistered": 5, "ScanCompleted": 1}
    assert stats_of(events).new_documents == 5
    assert stats_of(events).chunks == 5
    work = await h.take_work()
    assert sorted(message.document_id for _, message in work) == sorted(
        doc_id(h, text) for text in texts
    )  # the first's published chunk again under its message id: dropped as a duplicate
    await eventually(lambda: _released(h, operation_id))


async def _released(h: Harness, operation_id: UUID) -> bool:
    return await holder(h, operation_id) is None


async def test_a_scan_whose_lease_was_taken_stops_without_completing(
    harness: Harness, replicas: Starter
) -> None:
    h = harness
    docs, _ = folder(h, "lost", 4)
    only = await replicas("only", 1)
    operation_id = await h.request([await h.add_source(docs)])
    await stuck_at_the_gate(h, only, 1)
    # Another takes the lease (this replica was cut off past its ttl, say) and keeps it.
    kv = await h.bus.js.key_value(SCAN_LEASES_BUCKET)
    key = f"scan.{operation_id}"
    revision = (await kv.get(key)).revision

    async def intrude() -> None:
        nonlocal revision
        while True:
            revision = await kv.update(key, b"intruder", last=revision)
            await asyncio.sleep(TTL / 4)

    intruder = asyncio.ensure_future(intrude())
    await eventually(lambda: _lost(only, operation_id), timeout=10)  # its renewal refused
    # Room for the next file: it is not scanned, and the scan is not completed here.
    taken = await h.take_work()
    await eventually(lambda: _running(only, operation_id, False), timeout=10)
    await asyncio.sleep(TTL)
    assert not any(e.type == "ScanCompleted" for e in await h.events())
    assert operation_id in await only.service.call(only.app.open_scans)
    assert await holder(h, operation_id) == "intruder"
    # The intruder gives the lease back without completing it: this replica takes over.
    intruder.cancel()
    await asyncio.gather(intruder, return_exceptions=True)
    await kv.delete(key)
    events = await h.scan_events(operation_id, timeout=20)
    assert kinds(events) == {"ScanStarted": 1, "DocumentRegistered": 4, "ScanCompleted": 1}
    assert stats_of(events).new_documents == 4
    assert not stats_of(events).stopped
    taken += await h.take_work()
    assert len({message.document_id for _, message in taken}) == len(taken) == 4


async def _lost(replica: Replica, operation_id: UUID) -> bool:
    return operation_id in replica.service.runner.lost


async def _running(replica: Replica, operation_id: UUID, expected: bool) -> bool:
    return (operation_id in replica.service.scans) is expected


async def test_an_ending_stops_the_scan_on_the_replica_running_it(
    harness: Harness, replicas: Starter
) -> None:
    """The ending reaches one replica through the shared consumer; the scan stops on the
    one that holds it, whichever that is: here the one running it does nothing with
    what its consumer gets, so it stops only because it heard the ending itself."""
    h = harness
    docs, _ = folder(h, "ended", 4)
    first = await replicas("first", 1, True)
    operation_id = await h.request([await h.add_source(docs)])
    await stuck_at_the_gate(h, first, 1)
    await replicas("second", 2000)
    cancelled = OperationCancelled(
        collection_id=h.collection_id, operation_id=operation_id, reason="cancelled"
    )
    await h.publish("operation", operation_id, cancelled, version=2)
    await h.take_work()  # room for its next file: it stops there
    events = await h.scan_events(operation_id, timeout=20)
    assert stats_of(events).stopped
    assert kinds(events)["ScanCompleted"] == 1
    await h.take_work()
    await asyncio.sleep(TTL)  # both look at the open scans again: nothing runs it twice
    assert kinds(await h.scan_events(operation_id))["ScanCompleted"] == 1
