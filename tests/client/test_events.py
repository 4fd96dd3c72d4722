"""Live events through the client: a follow that disconnects after some events and
resumes with ``last_seq``, or whose gateway is killed under it, sees every event once,
in order; one without ``last_seq`` starts from a snapshot of the current state; a
refused subscription is a typed error."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from uuid import UUID

import httpx
import pytest

from semantik.client import EventFrame, ForbiddenError, SemantikClient
from tests.e2e.conftest import RunningSystem
from tests.reliability.faults import wait_ready

from .conftest import SignedIn, write_notes

pytestmark = pytest.mark.e2e


async def follow(
    client: SemantikClient,
    until: Callable[[list[EventFrame]], bool],
    *,
    collection_id: UUID | None = None,
    operation_id: UUID | None = None,
    last_seq: int | None = None,
) -> list[EventFrame]:
    """Frames after ``last_seq`` (0: the whole retained history; None: a snapshot first)
    until ``until`` holds; then the socket is closed."""
    seen: list[EventFrame] = []
    events = client.events(
        collection_id=collection_id, operation_id=operation_id, last_seq=last_seq
    )
    async with contextlib.aclosing(events):
        async for frame in events:
            seen.append(frame)
            if until(seen):
                break
    return seen


async def test_a_follow_resumed_with_last_seq_has_no_gap_and_no_repeat(
    system: RunningSystem, signed_in: SignedIn
) -> None:
    folder = write_notes(system.sources / "gina", {f"n{n}.md": f"Note {n}." for n in range(4)})
    async with signed_in("gina") as client:
        notes = await client.create_collection("gina-notes")
        added = await client.add_source(notes.id, folder)
        await client.wait(added.operation.id, timeout=120)
        await client.update_collection(notes.id, description="after the index")

        history = await follow(client, updated, collection_id=notes.id, last_seq=0)
        assert history[0].type == "CollectionCreated" and len(history) > 6
        assert all(f.collection_id == notes.id for f in history)

        first = await follow(
            client, lambda seen: len(seen) == 3, collection_id=notes.id, last_seq=0
        )
        rest = await follow(client, updated, collection_id=notes.id, last_seq=first[-1].seq)
        assert first + rest == history  # nothing missed, nothing twice, in stream order

        def ended(seen: list[EventFrame]) -> bool:
            return seen[-1].ends_operation

        operation = await follow(client, ended, operation_id=added.operation.id, last_seq=0)
        assert operation[-1].type == "OperationCompleted"
        assert {f.operation_id for f in operation} == {added.operation.id}
        assert {f.seq for f in operation} < {f.seq for f in history}

        # Without last_seq: the state now, not the history that made it.
        [now] = await follow(client, lambda seen: True, operation_id=added.operation.id)
        assert now.is_snapshot and now.ends_operation and now.seq >= history[-1].seq
        assert now.data["operation"]["status"] == "completed"


async def test_a_follow_goes_on_across_a_gateway_restart_missing_nothing(
    system: RunningSystem, signed_in: SignedIn
) -> None:
    """The gateway is SIGKILLed under an open follow: the client reconnects on its own
    once the supervisor has restarted it, and resumes after the last event it saw."""
    async with signed_in("jack") as client:
        notes = await client.create_collection("jack-notes")
        seen: list[EventFrame] = []
        events = client.events(collection_id=notes.id)
        async with contextlib.aclosing(events):
            async for frame in events:
                seen.append(frame)
                if frame.is_snapshot:
                    victim = system.pid("gateway")
                    os.kill(victim, signal.SIGKILL)
                    while system.pid("gateway") == victim:  # noqa: ASYNC110 - a pid file, no event
                        await asyncio.sleep(0.1)
                    async with httpx.AsyncClient(base_url=system.url) as http:
                        await wait_ready(http)
                    await client.update_collection(notes.id, description="after the restart")
                if frame.type == "CollectionUpdated":
                    break
        history = await follow(client, updated, collection_id=notes.id, last_seq=0)
        snapshot, *after = seen
        assert snapshot.data["collection"]["name"] == "jack-notes"
        assert after == [f for f in history if f.seq > snapshot.seq]
        assert [f.type for f in seen][-1] == "CollectionUpdated"


def updated(seen: list[EventFrame]) -> bool:
    return seen[-1].type == "CollectionUpdated"


async def test_a_refused_subscription_raises_the_typed_error(signed_in: SignedIn) -> None:
    async with signed_in("hugo") as hugo, signed_in("iris") as iris:
        theirs = await hugo.create_collection("hugo-private")
        with pytest.raises(ForbiddenError) as refused:
            await follow(iris, lambda seen: True, collection_id=theirs.id)
        assert refused.value.detail
