"""JetStream may lose what it acknowledged (SPEC §2): the event stores are the truth and
the bus only carries. An operation whose work or events vanish from the streams still
completes, with exact counts: the watchdog sees it stall and asks ingest to publish its
work again, and the relays publish again the events the stream lost.

The whole system runs in this process (``system.py``); the collection uses the tiny test
model, whose embedder the test starts itself, so that the work is certainly queued, and
not yet taken, when a stream is purged.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from collections_service.app import CollectionsService
from collections_service.bootstrap import build_collections_service
from embedder_service.bootstrap import build_embedder_service
from embedder_service.model import EmbeddingModel
from ingest_service.extraction.pool import ExtractionPool
from nats.js.api import ConsumerConfig, DeliverPolicy
from semantik_contracts import EventEnvelope
from semantik_contracts.subjects import EVENTS_STREAM, WORK_STREAM, event_filter
from semantik_runtime.bus import Bus
from semantik_runtime.vectors.edge import EdgeVectorStore

from tests.models import TINY_MODEL
from tests.system.system import System, running_system
from tests.waiting import eventually

pytestmark = [
    pytest.mark.integration,
    pytest.mark.reliability,
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]

TOPICS = ["harbour", "orchard", "glacier", "library", "foundry", "vineyard", "observatory"]
#: Twenty small notes, one chunk each at the tiny model's chunk size.
FILES = {
    f"note{n:02d}.md": f"Note {n} about the {TOPICS[n % 7]} and the {TOPICS[(n + 3) % 7]}: "
    f"the {n}th visit found the {TOPICS[(n + 5) % 7]} quiet, and the keeper wrote it down."
    for n in range(20)
}
#: Long enough that a second resume cannot land between an embedder's ack and the count
#: it brings on a loaded machine (which would embed a work id twice under a new id).
STALL_SECONDS = 3.0


@pytest.fixture
async def system(
    tmp_path: Path, private_nats_url: str, models_dir: Path, extraction_pool: ExtractionPool
) -> AsyncIterator[System]:
    """No embedder runs at first: the test starts the tiny model's (``embedder``)."""
    store = EdgeVectorStore(tmp_path / "qdrant")
    try:
        async with running_system(
            tmp_path,
            private_nats_url,
            store,
            [],
            models_dir,
            extraction_pool,
            operation_stall_seconds=STALL_SECONDS,
        ) as running:
            yield running
    finally:
        store.close()


@contextlib.asynccontextmanager
async def embedder(system: System, nats_url: str, model: EmbeddingModel) -> AsyncIterator[None]:
    bus = await Bus.connect(nats_url, "embedder")
    service = build_embedder_service(bus, system.store, model, batch_chunks=32, optimize_after=1.0)
    stop = asyncio.Event()
    await service.start(stop)
    try:
        yield
    finally:
        stop.set()
        await service.close()
        await bus.close()


async def start_index(system: System, bus: Bus) -> tuple[str, str]:
    """A collection of the tiny model with ``FILES`` added: its ids once the scan is over
    and all its work waits in SEMANTIK_WORK."""
    folder = system.sources / "notes"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    collection = await system.call(
        "POST", "/api/v2/collections", json={"name": "notes", "model_name": TINY_MODEL}
    )
    added = await system.call(
        "POST", f"/api/v2/collections/{collection['id']}/sources", json={"path": str(folder)}
    )
    operation_id = added["operation"]["id"]

    async def queued() -> bool:
        work = await bus.js.stream_info(WORK_STREAM)
        op = await system.call("GET", f"/api/v2/operations/{operation_id}")
        return work.state.messages == len(FILES) and op["total"] > 0

    await eventually(queued)
    return collection["id"], operation_id


async def events(bus: Bus, subject: str) -> list[tuple[str, EventEnvelope]]:
    """Every message on ``subject`` in SEMANTIK_EVENTS: its Nats-Msg-Id and event."""
    info = await bus.js.stream_info(EVENTS_STREAM, subjects_filter=subject)
    expected = sum((info.state.subjects or {}).values())
    sub = await bus.js.pull_subscribe(
        subject, stream=EVENTS_STREAM, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    )
    found: list[tuple[str, EventEnvelope]] = []
    deadline = time.monotonic() + 60  # a fetch may end empty-handed (a 408): try again
    while len(found) < expected:
        assert time.monotonic() < deadline, f"{len(found)} of {expected} read on {subject}"
        for msg in await sub.fetch(100, timeout=5):
            envelope = EventEnvelope.model_validate_json(msg.data)
            found.append(((msg.headers or {}).get("Nats-Msg-Id", ""), envelope))
            await msg.ack()
    await sub.unsubscribe()
    return found


async def assert_exact(
    system: System, collection_id: str, operation_id: str, vanished: int = 0
) -> dict[str, Any]:
    """The operation completed, and every document and chunk is counted once; the
    ``vanished`` documents (one chunk each, like every note) failed with the reason."""
    op: dict[str, Any] = await system.operation_done(operation_id, timeout=90)
    assert op["status"] == "completed", op
    assert op["total"] == op["stats"]["chunks"] == op["stats"]["new_documents"] == len(FILES)
    assert op["processed"] == len(FILES) - vanished
    assert op["failed"] == len(op["failures"]) == vanished
    assert all("its file is gone" in failure["reason"] for failure in op["failures"])
    collection = await system.call("GET", f"/api/v2/collections/{collection_id}")
    assert collection["document_count"] == len(FILES) - vanished
    assert collection["vector_count"] == collection["chunk_count"] == op["processed"]
    return op


async def test_work_purged_mid_operation_is_published_again_and_counted_once(
    system: System, private_nats_url: str, tiny_model: EmbeddingModel
) -> None:
    bus = await Bus.connect(private_nats_url, "test")
    try:
        collection_id, operation_id = await start_index(system, bus)
        await bus.js.purge_stream(WORK_STREAM)  # acknowledged work, lost before it was taken
        assert (await bus.js.stream_info(WORK_STREAM)).state.messages == 0
        (system.sources / "notes" / "note07.md").unlink()  # its work cannot be made again
        async with embedder(system, private_nats_url, tiny_model):
            await assert_exact(system, collection_id, operation_id, vanished=1)
        embedded = await events(bus, event_filter(event_type="ChunksEmbedded"))
    finally:
        await bus.close()
    # Every other document's work was embedded once, and only by its republished copy.
    work_ids = Counter(envelope.event.work_id for _, envelope in embedded)  # type: ignore[union-attr]
    assert len(work_ids) == len(FILES) - 1 and set(work_ids.values()) == {1}
    assert all(":resume-" in msg_id for msg_id, _ in embedded)


async def test_events_purged_mid_operation_are_healed_and_counted_once(
    system: System, private_nats_url: str, tiny_model: EmbeddingModel
) -> None:
    bus = await Bus.connect(private_nats_url, "test")
    collections: CollectionsService = system.services[0]
    restarted: CollectionsService | None = None
    try:
        collection_id, operation_id = await start_index(system, bus)
        # The collections service is down while the embedder does all the work, and the
        # stream loses every event before it comes back: the embedders' ChunksEmbedded
        # (in no event store) and what the relays published.
        await collections.close()
        await collections.bus.close()
        async with embedder(system, private_nats_url, tiny_model):
            chunks_embedded = event_filter(event_type="ChunksEmbedded")

            async def all_embedded() -> bool:
                info = await bus.js.stream_info(EVENTS_STREAM, subjects_filter=chunks_embedded)
                return sum((info.state.subjects or {}).values()) == len(FILES)

            await eventually(all_embedded)
            await bus.js.purge_stream(EVENTS_STREAM)
            restarted = build_collections_service(
                collections.app,
                await Bus.connect(private_nats_url, "collections"),
                operation_timeout_seconds=600,
                progress_interval_seconds=0.2,
                operation_stall_seconds=STALL_SECONDS,
            )
            await restarted.start(asyncio.Event())
            await assert_exact(system, collection_id, operation_id)
        # The relays published the lost events again: the operation's request and the
        # scan's end are back in the stream, once each (one Nats-Msg-Id, one event id).
        requested = await events(bus, event_filter(aggregate_id=UUID(operation_id)))
        types = Counter(envelope.type for _, envelope in requested)
        assert types["OperationRequested"] == 1 and types["OperationCompleted"] == 1
        scan_ended = await events(bus, event_filter(event_type="ScanCompleted"))
        assert [e.event.operation_id for _, e in scan_ended] == [UUID(operation_id)]  # type: ignore[union-attr]
        everything = await events(bus, "semantik.evt.>")
        ids = [msg_id for msg_id, _ in everything]
        assert len(ids) == len(set(ids)), "a message id twice in SEMANTIK_EVENTS"
        event_ids = [e.event_id for _, e in everything]
        assert len(event_ids) == len(set(event_ids)), "an event twice in SEMANTIK_EVENTS"
    finally:
        if restarted is not None:
            await restarted.close()
            await restarted.bus.close()
        await bus.close()


async def test_an_operation_whose_model_no_embedder_serves_fails_naming_it(
    tmp_path: Path, private_nats_url: str, models_dir: Path, extraction_pool: ExtractionPool
) -> None:
    """No embedder ever ran for the collection's model: nothing consumes its work queue.
    The watchdog fails the stalled operation once that has lasted the embedder wait,
    instead of resuming it until its timeout, hours later."""
    store = EdgeVectorStore(tmp_path / "qdrant")
    try:
        async with running_system(
            tmp_path,
            private_nats_url,
            store,
            [],
            models_dir,
            extraction_pool,
            operation_stall_seconds=1.0,
            embedder_wait_seconds=1.0,
        ) as system:
            bus = await Bus.connect(private_nats_url, "test")
            try:
                collection_id, operation_id = await start_index(system, bus)
            finally:
                await bus.close()
            op = await system.operation_done(operation_id, timeout=60)
            collection = await system.call("GET", f"/api/v2/collections/{collection_id}")
    finally:
        store.close()
    assert op["status"] == "failed", op
    assert f"no embedder serves model {TINY_MODEL}" in op["error"], op
    assert f"SEMANTIK_EMBED_MODEL={TINY_MODEL}" in op["error"], op
    assert collection["active_operation_id"] is None, collection
