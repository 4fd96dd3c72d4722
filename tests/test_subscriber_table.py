"""The subscriber example's table (examples/subscriber) on SQLite and on PostgreSQL:
events applied in any order, each delivered more than once, give the table that the
events in version order give, and each event counts once."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[1] / "examples" / "subscriber" / "subscriber.py"


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("subscriber_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def envelope(cid: str, version: int, event: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": f"{cid}:{version}",
        "aggregate_type": "collection",
        "aggregate_id": cid,
        "version": version,
        "occurred_at": f"2026-01-01T00:00:{version:02}Z",
        "event": {"collection_id": cid, **event},
    }


def history(cid: str) -> list[dict[str, Any]]:
    """One collection's published events, in version order (gaps: unpublished ones)."""
    return [
        envelope(cid, 1, {"type": "CollectionCreated", "name": "notes"}),
        envelope(cid, 2, {"type": "GenerationCreated", "generation": 1}),
        envelope(cid, 4, {"type": "CollectionStatusChanged", "status": "processing"}),
        envelope(cid, 6, {"type": "GenerationActivated", "generation": 1}),
        envelope(
            cid,
            7,
            {
                "type": "CollectionCountsChanged",
                "document_count": 3,
                "chunk_count": 9,
                "size_bytes": 120,
            },
        ),
        envelope(cid, 9, {"type": "CollectionStatusChanged", "status": "ready", "reason": ""}),
        envelope(cid, 10, {"type": "CollectionUpdated", "name": "team notes"}),
        envelope(cid, 12, {"type": "CollectionStatusChanged", "status": "degraded", "reason": "x"}),
    ]


@pytest.fixture
def postgres_table_url(postgres_url: str) -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_any_order_and_repeats_give_the_same_table(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    subscriber = example()

    def url(name: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / name}.db"
        base: str = request.getfixturevalue("postgres_table_url")
        return base

    cid = str(uuid.uuid4())
    events = history(cid)
    in_order = subscriber.Table(url("in-order"))
    assert [in_order.apply(e, seq) for seq, e in enumerate(events, 1)] == [True] * len(events)
    expected = in_order.rows()
    if backend == "postgresql":  # one schema: start the second table afresh
        in_order.connection.execute("DELETE FROM semantik_applied_events")
        in_order.connection.execute("DELETE FROM semantik_collections")
    shuffled = subscriber.Table(url("shuffled"))
    # Late events, each delivered twice (a redelivery, then a heal replay with new seqs).
    order = [*reversed(events), *events[::2], *events]
    applied = [shuffled.apply(e, 100 + seq) for seq, e in enumerate(order)]
    assert applied.count(True) == len(events)
    (row,) = shuffled.rows()
    assert {k: v for k, v in row.items() if k != "last_seq"} == {
        k: v for k, v in expected[0].items() if k != "last_seq"
    }
    assert row["name"] == "team notes" and row["status"] == "degraded"
    assert (row["document_count"], row["chunk_count"], row["active_generation"]) == (3, 9, 1)
    assert row["applied_events"] == len(events)


def test_a_db_url_of_another_kind_is_refused() -> None:
    with pytest.raises(SystemExit, match="--db must be"):
        example().Table("mysql://localhost/x")


def test_the_consumer_starts_at_sequence_1_now_or_a_stored_sequence() -> None:
    from nats.js.api import AckPolicy, DeliverPolicy

    config = example().consumer_config
    first, now, stored = config("t", "all"), config("t", "new"), config("t", "42")
    assert first.deliver_policy is DeliverPolicy.ALL and now.deliver_policy is DeliverPolicy.NEW
    assert stored.deliver_policy is DeliverPolicy.BY_START_SEQUENCE and stored.opt_start_seq == 42
    assert first.ack_policy is AckPolicy.EXPLICIT and first.durable_name == "t"
    with pytest.raises(SystemExit, match="--start must be"):
        config("t", "yesterday")


async def test_an_empty_fetch_is_taken_as_nothing_and_the_next_batch_is_applied(
    nats_url: str, tmp_path: Path
) -> None:
    """nats-py's ``fetch`` answers an empty list, not a timeout, when its pull request
    ends with statuses only: here, two earlier requests on the same inbox that expire
    during it (a restarted or lagging client's late 408s). The example once indexed
    ``messages[-1]`` and died there."""
    import asyncio
    import json
    import time

    import nats
    from nats.js import api

    subscriber = example()
    table = subscriber.Table(f"sqlite:///{tmp_path / 'table.db'}")
    stream = f"SUBSCRIBER_TEST_{uuid.uuid4().hex[:10].upper()}"
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
    try:
        config = api.ConsumerConfig(ack_policy=api.AckPolicy.EXPLICIT, ack_wait=30.0)
        sub = await js.pull_subscribe(f"{stream.lower()}.>", "table", stream=stream, config=config)
        for expires in (0.2, 0.4):  # two stale pull requests on the subscription's inbox
            request = json.dumps({"batch": 1, "expires": int(expires * 1e9)}).encode()
            await nc.publish(
                f"$JS.API.CONSUMER.MSG.NEXT.{stream}.table", request, reply=sub._deliver
            )
        empty = await sub.fetch(4, timeout=1.0)
        assert empty == []
        assert await subscriber.take(table, empty) == (0, None)

        cid = str(uuid.uuid4())
        created = envelope(cid, 1, {"type": "CollectionCreated", "name": "notes"})
        ack = await js.publish(f"{stream.lower()}.created", json.dumps(created).encode())
        assert await subscriber.take(table, await sub.fetch(4, timeout=1.0)) == (1, ack.seq)
        (row,) = table.rows()
        assert (row["collection_id"], row["name"], row["applied_events"]) == (cid, "notes", 1)
        # The ack is a plain publish, which the server applies to the consumer a moment
        # after it arrives.
        deadline = time.monotonic() + 10
        while (info := await js.consumer_info(stream, "table")).num_ack_pending:
            assert time.monotonic() < deadline, info
            await asyncio.sleep(0.05)
        assert info.num_ack_pending == 0 and info.ack_floor.stream_seq == ack.seq
    finally:
        await js.delete_stream(stream)
        await nc.close()
