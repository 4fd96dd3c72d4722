"""The collections service over a real NATS JetStream: commands, typed errors, the
process manager fed by events from the bus, and the relay publishing its events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from collections_service.app import CollectionsService
from collections_service.application import CollectionsApplication
from collections_service.bootstrap import build_collections_service
from semantik_contracts import (
    ErrorCode,
    EventEnvelope,
    OperationStatus,
    RpcFailure,
    commands,
    events,
)
from semantik_contracts.commands import ValidatedSource, ValidateSource
from semantik_contracts.subjects import COLLECTIONS, INGEST, command_subject
from semantik_contracts.views import CollectionView, OperationView, Page, SourceAndOperation
from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env

pytestmark = pytest.mark.integration


@pytest.fixture
async def service(bus: Bus, tmp_path: Path) -> AsyncIterator[CollectionsService]:
    app = CollectionsApplication(env=event_store_env("collections", None, tmp_path))
    svc = build_collections_service(
        app, bus, operation_timeout_seconds=3600, progress_interval_seconds=0.1
    )
    stop = asyncio.Event()
    await svc.start(stop)

    async def validate(request: ValidateSource) -> ValidatedSource:  # ingest's part
        return ValidatedSource(path=request.path, kind="directory")

    await bus.serve(command_subject(INGEST, "ValidateSource"), ValidateSource, validate, queue="t")
    yield svc
    stop.set()
    await svc.close()
    app.close()


def cmd(name: str) -> str:
    return command_subject(COLLECTIONS, name)


async def publish(bus: Bus, aggregate_id: UUID, event: events.Event, version: int = 1) -> None:
    await bus.publish_event(
        EventEnvelope(
            event_id=f"{aggregate_id}:{type(event).__name__}:{version}",
            aggregate_type="scan",
            aggregate_id=aggregate_id,
            version=version,
            occurred_at=datetime.now(UTC),
            event=event,  # type: ignore[arg-type]
        )
    )


async def test_commands_and_the_operation_lifecycle_over_the_bus(
    bus: Bus, service: CollectionsService
) -> None:
    view = await bus.request(
        cmd("CreateCollection"), commands.CreateCollection(actor="u1", name="docs"), CollectionView
    )
    with pytest.raises(RpcFailure) as err:
        await bus.request(
            cmd("CreateCollection"),
            commands.CreateCollection(actor="u1", name="docs"),
            CollectionView,
        )
    assert err.value.error.code is ErrorCode.CONFLICT
    bad = await bus.nc.request(cmd("CreateCollection"), b'{"actor": "u1"}', timeout=5)
    assert b'"invalid"' in bad.data and b"name" in bad.data

    started = await bus.request(
        cmd("AddSource"),
        commands.AddSource(actor="u1", collection_id=view.id, path="/srv/docs"),
        SourceAndOperation,
    )
    op_id = started.operation.id
    assert started.source.path == "/srv/docs"

    await publish(bus, op_id, events.ScanStarted(collection_id=view.id, operation_id=op_id))
    doc = uuid4()
    embedded = events.ChunksEmbedded(
        collection_id=view.id,
        operation_id=op_id,
        document_id=doc,
        generation=1,
        chunk_count=2,
        work_id="w",
    )
    await publish(bus, doc, embedded)
    await publish(bus, doc, embedded, version=2)  # a duplicate delivery from another path
    stats = events.ScanStats(total_files_found=1, new_documents=1, chunks=2)
    await publish(
        bus, op_id, events.ScanCompleted(collection_id=view.id, operation_id=op_id, stats=stats)
    )

    get = commands.GetOperation(actor="u1", operation_id=op_id)
    for _ in range(1200):
        op = await bus.request(cmd("GetOperation"), get, OperationView)
        if op.status is OperationStatus.COMPLETED:
            break
        await asyncio.sleep(0.05)
    assert op.status is OperationStatus.COMPLETED and (op.processed, op.total) == (2, 2)
    page = await bus.request(
        cmd("ListOperations"),
        commands.ListOperations(actor="u1", status="completed"),
        Page[OperationView],
    )
    assert [o.id for o in page.items] == [op_id]
    coll = await bus.request(
        cmd("GetCollection"),
        commands.GetCollection(actor="u1", collection_id=view.id),
        CollectionView,
    )
    assert (coll.status, coll.document_count, coll.chunk_count) == ("ready", 1, 2)

    # The relay published the operation's events, in order, on the operation's subject.
    sub = await bus.js.subscribe(
        f"semantik.evt.{view.id}.operation.{op_id}.*", ordered_consumer=True
    )
    seen: list[str] = []
    while "OperationCompleted" not in seen:
        msg = await sub.next_msg(timeout=5)
        seen.append(EventEnvelope.model_validate_json(msg.data).type)
    await sub.unsubscribe()
    assert seen[0] == "OperationRequested" and seen[1] == "OperationStarted"
