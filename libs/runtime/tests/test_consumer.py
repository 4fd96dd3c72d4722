"""Following events in batches: one call per fetch, acks after it, a failing event alone;
and waiting for a consumer to catch up with the stream."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from nats.js.errors import NotFoundError
from semantik_contracts import EventEnvelope
from semantik_contracts.events import ChunksEmbedded, EmbeddingFailed
from semantik_contracts.subjects import EVENTS_STREAM, event_filter
from semantik_runtime.bus import Bus
from semantik_runtime.consumer import caught_up, follow_event_batches

pytestmark = pytest.mark.integration


def embedded(work_id: str) -> EventEnvelope:
    document = uuid4()
    return EventEnvelope(
        event_id=work_id,
        aggregate_type="embedding",
        aggregate_id=document,
        version=1,
        occurred_at=datetime.now(UTC),
        event=ChunksEmbedded(
            collection_id=uuid4(),
            operation_id=uuid4(),
            document_id=document,
            generation=1,
            chunk_count=1,
            work_id=work_id,
        ),
    )


async def test_batches_are_handled_together_and_a_failing_event_alone(bus: Bus) -> None:
    names = [f"w{n}" for n in range(6)]
    for name in names:
        await bus.publish_event(embedded(name))
    calls: list[list[str]] = []
    handled: list[str] = []
    bad_tries = 0
    done = asyncio.Event()

    async def handle(envelopes: list[EventEnvelope]) -> None:
        nonlocal bad_tries
        work = [e.event.work_id for e in envelopes if isinstance(e.event, ChunksEmbedded)]
        calls.append(work)
        if "w3" in work:
            bad_tries += 1
            if bad_tries < 3:  # fails with its batch, then alone once; then it is handled
                raise RuntimeError("cannot handle w3 yet")
        handled.extend(work)
        if sorted(set(handled)) == names:
            done.set()

    stop = asyncio.Event()
    durable = "test-batches"
    follower = asyncio.create_task(
        follow_event_batches(bus, durable, event_filter(event_type="ChunksEmbedded"), handle, stop)
    )
    try:
        async with asyncio.timeout(60):
            await done.wait()
            # Everything handled is acked: nothing stays pending on the consumer.
            while (await bus.js.consumer_info(EVENTS_STREAM, durable)).num_ack_pending:  # noqa: ASYNC110 - the server's state, no event to wait on
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await follower
    assert calls[0] == names  # one call for the whole fetch, in stream order
    assert calls[1:7] == [[name] for name in names]  # then each event alone
    assert calls[7:] == [["w3"]]  # the failed one, redelivered later
    assert sorted(handled) == names  # every other event once, w3 once it succeeded


async def test_caught_up_waits_for_what_was_published_before_it(bus: Bus) -> None:
    durable = "test-caught-up"
    subject = event_filter(event_type="ChunksEmbedded")
    gate = asyncio.Event()
    handled: list[str] = []

    async def handle(envelopes: list[EventEnvelope]) -> None:
        await gate.wait()
        handled.extend(e.event.work_id for e in envelopes if isinstance(e.event, ChunksEmbedded))

    # Not made yet: nothing it could have handled, nothing to wait for.
    assert await caught_up(bus, [durable], timeout=0)
    stop = asyncio.Event()
    follower = asyncio.create_task(follow_event_batches(bus, durable, subject, handle, stop))
    try:
        async with asyncio.timeout(60):
            while True:  # the consumer exists once the follower has subscribed
                try:
                    await bus.js.consumer_info(EVENTS_STREAM, durable)
                    break
                except NotFoundError:
                    await asyncio.sleep(0.02)
            for name in ("c1", "c2", "c3"):
                await bus.publish_event(embedded(name))
            # Held by the handler: delivered, not acked, so not caught up.
            assert not await caught_up(bus, [durable], timeout=0.3)
            assert handled == []
            gate.set()
            assert await caught_up(bus, [durable], timeout=30)
            assert handled == ["c1", "c2", "c3"]
            # Events outside its filter after the last one it handled: nothing to wait for.
            await bus.publish_event(outside())
            assert await caught_up(bus, [durable], timeout=0)
    finally:
        stop.set()
        await follower


def outside() -> EventEnvelope:
    failed = embedded("other")
    assert isinstance(failed.event, ChunksEmbedded)
    event = EmbeddingFailed(
        collection_id=failed.event.collection_id,
        operation_id=failed.event.operation_id,
        document_id=failed.event.document_id,
        generation=1,
        chunk_count=1,
        work_id="other",
        reason="a test",
    )
    return failed.model_copy(update={"event": event, "event_id": f"other-{uuid4()}"})
