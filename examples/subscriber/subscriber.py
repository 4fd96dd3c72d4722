"""Keep an outside table of every Semantik collection's status and counts, fed by the
events of the stream ``SEMANTIK_EVENTS`` through a durable JetStream pull consumer
(the contract it relies on: docs/integrations.md).

    NATS_URL=nats://127.0.0.1:4222 NATS_USER=subscriber NATS_PASSWORD=… \\
        python subscriber.py --db sqlite:///collections.db

Each event's effect and the record of its event id (the body's ``event_id``) are
committed in one database transaction, and only then is the message acknowledged. A
crash between the commit and the ack delivers the event again; its recorded id makes
it a no-op. A heal replay (the same event under ``Nats-Msg-Id: <id>:replay-<tag>``) is
skipped the same way.

Each column group keeps the aggregate version of the event that set it, and an event
sets a group only if its version is higher: the table ends the same whatever order the
events arrive in (redeliveries and heal replays may come late).

``--verify`` compares the table with the API's view of each collection (``semantik``
installed: it uses ``semantik.client``) and exits 1 on a difference.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import nats
import nats.errors
from nats.aio.msg import Msg
from nats.js import api

STREAM = "SEMANTIK_EVENTS"
#: Events of the Collection aggregate, whatever the collection (docs/integrations.md).
COLLECTION_EVENTS = "semantik.evt.*.collection.*.*"

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS semantik_collections (
        collection_id TEXT PRIMARY KEY,
        name TEXT, name_version INTEGER NOT NULL DEFAULT 0,
        status TEXT, status_reason TEXT, status_version INTEGER NOT NULL DEFAULT 0,
        document_count BIGINT NOT NULL DEFAULT 0, chunk_count BIGINT NOT NULL DEFAULT 0,
        size_bytes BIGINT NOT NULL DEFAULT 0, counts_version INTEGER NOT NULL DEFAULT 0,
        active_generation INTEGER, generation_version INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0, deleted_version INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT, updated_version INTEGER NOT NULL DEFAULT 0,
        applied_events BIGINT NOT NULL DEFAULT 0,
        last_seq BIGINT NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS semantik_applied_events (
        event_id TEXT PRIMARY KEY,
        collection_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        stream_seq BIGINT NOT NULL)""",
)

#: The columns an event sets, by group: (group, {column: field of the event}).
Change = tuple[str, dict[str, str]]
CHANGES: dict[str, list[Change]] = {
    "CollectionCreated": [
        ("name", {"name": "name"}),
        ("status", {"status": "=pending", "status_reason": "="}),
    ],
    "CollectionUpdated": [("name", {"name": "name"})],
    "CollectionStatusChanged": [("status", {"status": "status", "status_reason": "reason"})],
    "CollectionCountsChanged": [
        (
            "counts",
            {
                "document_count": "document_count",
                "chunk_count": "chunk_count",
                "size_bytes": "size_bytes",
            },
        )
    ],
    "GenerationActivated": [("generation", {"active_generation": "generation"})],
    "CollectionDeleted": [("deleted", {"deleted": "=1"})],
}
#: What ``--verify`` compares with the API's Collection.
COMPARED = (
    "name",
    "status",
    "status_reason",
    "document_count",
    "chunk_count",
    "size_bytes",
    "active_generation",
)


class Table:
    """The outside table in SQLite (``sqlite:///path``) or PostgreSQL (``postgresql://``)."""

    def __init__(self, url: str) -> None:
        self.connection: Any
        if url.startswith("sqlite:///"):
            self.connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.marker = "?"
        elif url.startswith(("postgresql://", "postgres://")):
            import psycopg

            self.connection = psycopg.connect(url, autocommit=True)
            self.marker = "%s"
        else:
            raise SystemExit(f"--db must be sqlite:///<path> or postgresql://…, not {url!r}")
        with self.transaction() as run:
            for statement in SCHEMA:
                run(statement, ())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """One transaction; yields ``run(sql, params) -> rowcount`` (``?`` placeholders)."""
        cursor = self.connection.cursor()

        def run(sql: str, params: Sequence[Any]) -> int:
            cursor.execute(sql.replace("?", self.marker), params)
            return int(cursor.rowcount)

        cursor.execute("BEGIN")
        try:
            yield run
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")

    def rows(self) -> list[dict[str, Any]]:
        cursor = self.connection.cursor()
        cursor.execute("SELECT * FROM semantik_collections ORDER BY collection_id")
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def apply(self, envelope: dict[str, Any], seq: int) -> bool:
        """Apply one event and record its id, in one transaction; False if it was
        applied before (a redelivery or a heal replay)."""
        event = envelope["event"]
        collection_id, version = str(event["collection_id"]), int(envelope["version"])
        with self.transaction() as run:
            recorded = run(
                "INSERT INTO semantik_applied_events (event_id, collection_id, event_type,"
                " stream_seq) VALUES (?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
                (envelope["event_id"], collection_id, event["type"], seq),
            )
            if not recorded:
                return False
            run(
                "INSERT INTO semantik_collections (collection_id) VALUES (?)"
                " ON CONFLICT (collection_id) DO NOTHING",
                (collection_id,),
            )
            changes = [*CHANGES.get(event["type"], []), ("updated", {"updated_at": "@"})]
            for group, columns in changes:
                values = [_value(spec, event, envelope) for spec in columns.values()]
                assignments = ", ".join(f"{column} = ?" for column in columns)
                run(
                    f"UPDATE semantik_collections SET {assignments}, {group}_version = ?"
                    f" WHERE collection_id = ? AND {group}_version < ?",
                    (*values, version, collection_id, version),
                )
            run(
                "UPDATE semantik_collections SET applied_events = applied_events + 1,"
                " last_seq = CASE WHEN last_seq < ? THEN ? ELSE last_seq END"
                " WHERE collection_id = ?",
                (seq, seq, collection_id),
            )
        return True


def _value(spec: str, event: dict[str, Any], envelope: dict[str, Any]) -> Any:
    """A column's value: ``=literal``, ``@`` (the event's time) or the event's field."""
    if spec == "@":
        return envelope["occurred_at"]
    if spec.startswith("="):
        literal = spec[1:]
        return int(literal) if literal.isdigit() else literal
    return event.get(spec)


def consumer_config(durable: str, start: str) -> api.ConsumerConfig:
    """The durable consumer, created on first start: from sequence 1 (``all``), from
    now (``new``) or from a stored sequence (a number). Acks are explicit; a message
    not acked within ``ack_wait`` is delivered again."""
    config = api.ConsumerConfig(
        durable_name=durable,
        filter_subject=COLLECTION_EVENTS,
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=30.0,
        max_ack_pending=1000,
        deliver_policy=api.DeliverPolicy.ALL,
    )
    if start == "new":
        config.deliver_policy = api.DeliverPolicy.NEW
    elif start.isdigit():
        config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
        config.opt_start_seq = int(start)
    elif start != "all":
        raise SystemExit(f"--start must be all, new or a stream sequence, not {start!r}")
    return config


async def follow(table: Table, durable: str, start: str, batch: int) -> None:
    """Apply every collection event, in stream order, until SIGTERM or SIGINT."""
    user = os.environ.get("NATS_USER", "subscriber")
    nc = await nats.connect(
        servers=[os.environ.get("NATS_URL", "nats://127.0.0.1:4222")],
        user=user,
        password=os.environ.get("NATS_PASSWORD"),
        inbox_prefix=f"_INBOX.{user}",  # the subscriber may read its own inbox only
        name=f"semantik-subscriber-{durable}",
        max_reconnect_attempts=-1,
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            COLLECTION_EVENTS, durable, stream=STREAM, config=consumer_config(durable, start)
        )
        applied = skipped = 0
        while not stop.is_set():
            try:
                messages = await sub.fetch(batch, timeout=1.0)
            except nats.errors.TimeoutError:
                continue
            changed, seq = await take(table, messages)
            applied, skipped = applied + changed, skipped + len(messages) - changed
            if seq is not None:
                print(json.dumps({"applied": applied, "skipped": skipped, "seq": seq}), flush=True)
    finally:
        await nc.close()


async def take(table: Table, messages: list[Msg]) -> tuple[int, int | None]:
    """Apply and ack a fetched batch: how many changed the table, and the last message's
    stream sequence. The batch may be empty: nats-py's ``fetch`` returns no message,
    rather than a timeout, when the status that ends its pull request (a 408 or 404) is
    the only answer, one of an earlier request's late statuses included."""
    changed = [await handle(table, msg) for msg in messages]
    return sum(changed), messages[-1].metadata.sequence.stream if messages else None


async def handle(table: Table, msg: Msg) -> bool:
    """Apply one message, then ack it; True if it changed the table."""
    try:
        envelope = json.loads(msg.data)
        event = envelope["event"]
        valid = isinstance(event["collection_id"], str) and isinstance(envelope["event_id"], str)
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        print(f"not an event, dropped: {msg.subject}", file=sys.stderr, flush=True)
        await msg.term()  # never delivered again
        return False
    changed = table.apply(envelope, msg.metadata.sequence.stream)
    await msg.ack()  # after the commit: a crash before it delivers the event again
    return changed


async def verify(table: Table, url: str) -> list[str]:
    """Differences between the table and the API's view of the collections the account
    (``SEMANTIK_USERNAME``/``SEMANTIK_PASSWORD``) may read."""
    from semantik.client import ApiError, SemantikClient

    differences = []
    async with SemantikClient(url) as client:
        await client.login(os.environ["SEMANTIK_USERNAME"], os.environ["SEMANTIK_PASSWORD"])
        rows = {row["collection_id"]: row for row in table.rows()}
        offset = 0
        while True:
            page = await client.call(
                "GET", "/api/v2/collections", params={"limit": 500, "offset": offset}
            )
            for item in page["items"]:
                if item["id"] not in rows:
                    differences.append(f"{item['id']}: in the API, not in the table")
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                break
        for collection_id, row in rows.items():
            try:
                view = await client.call("GET", f"/api/v2/collections/{collection_id}")
            except ApiError as exc:
                if exc.status == 404 and row["deleted"]:
                    continue
                if exc.status == 403:  # not readable by this account
                    continue
                differences.append(f"{collection_id}: API {exc.status}, table {row}")
                continue
            if row["deleted"]:
                differences.append(f"{collection_id}: deleted in the table only")
            for field in COMPARED:
                if row[field] != view[field]:
                    differences.append(
                        f"{collection_id}.{field}: table {row[field]!r}, API {view[field]!r}"
                    )
    return differences


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite:///semantik-collections.db")
    parser.add_argument("--durable", default="collections-table", help="consumer name")
    parser.add_argument("--start", default="all", help="all, new or a stream sequence")
    parser.add_argument("--batch", type=int, default=100, help="messages per fetch")
    parser.add_argument("--verify", metavar="URL", help="compare the table with the API")
    args = parser.parse_args(argv)
    table = Table(args.db)
    if args.verify:
        differences = asyncio.run(verify(table, args.verify))
        print("\n".join(differences) or "the table equals the API's view", flush=True)
        return 1 if differences else 0
    asyncio.run(follow(table, args.durable, args.start, args.batch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
