"""The subscriber example (examples/subscriber) against ``semantik run``, with the NATS
``subscriber`` user: killed with SIGKILL while events flow and started again, its table
ends equal to the API's view, and no event's effect is applied twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.errors
import pytest
from nats.aio.msg import Msg
from nats.js import api
from semantik_runtime.consumer import read_to_end

from tests.waiting import eventually

from ..test_subscriber_table import EXAMPLE, example
from .conftest import RunningSystem, register
from .test_walking_skeleton import wait_operation

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STREAM = "SEMANTIK_EVENTS"
COLLECTION_EVENTS = "semantik.evt.*.collection.*.*"
#: The fields ``--verify`` compares, as the example names them.
COMPARED = example().COMPARED


def nats_env(system: RunningSystem) -> dict[str, str]:
    """Where ``semantik run`` keeps the NATS URL and the subscriber's password."""
    password = (system.data_dir / "secrets" / "nats-subscriber.password").read_text().strip()
    url = (system.data_dir / "run" / "nats.url").read_text().strip()
    return {"NATS_URL": url, "NATS_USER": "subscriber", "NATS_PASSWORD": password}


class Subscriber:
    """The example as a subprocess; its stdout (one JSON report per batch) in a file."""

    def __init__(self, system: RunningSystem, db: Path, out: Path) -> None:
        self.env = {**os.environ, **nats_env(system)}
        self.db, self.out = db, out
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [sys.executable, str(EXAMPLE), "--db", f"sqlite:///{self.db}", "--batch", "4"]
        with self.out.open("ab") as out:
            self.process = subprocess.Popen(argv, env=self.env, stdout=out, stderr=out)

    def stop(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)
        self.process.wait(20)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def reports(self) -> list[dict[str, Any]]:
        lines = self.out.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def rows(self) -> dict[str, dict[str, Any]]:
        if not self.db.exists():
            return {}
        with sqlite3.connect(self.db) as connection:
            connection.row_factory = sqlite3.Row
            try:
                rows = connection.execute("SELECT * FROM semantik_collections").fetchall()
            except sqlite3.OperationalError:  # the subscriber has not made it yet
                return {}
        return {row["collection_id"]: dict(row) for row in rows}


async def stream_event_ids(system: RunningSystem) -> dict[str, set[str]]:
    """Every collection's distinct event ids (the body's) in the stream, read as the
    subscriber with an ephemeral consumer of its own."""
    env = nats_env(system)
    nc = await nats.connect(
        env["NATS_URL"],
        user="subscriber",
        password=env["NATS_PASSWORD"],
        inbox_prefix="_INBOX.subscriber",
    )
    ids: dict[str, set[str]] = {}

    def note(msg: Msg) -> None:
        envelope = json.loads(msg.data)
        ids.setdefault(envelope["event"]["collection_id"], set()).add(envelope["event_id"])

    try:
        config = api.ConsumerConfig(ack_policy=api.AckPolicy.NONE, inactive_threshold=5.0)
        sub = await nc.jetstream().pull_subscribe(COLLECTION_EVENTS, stream=STREAM, config=config)
        await read_to_end(sub, note, batch=500, patience=30)
        await sub.unsubscribe()
    finally:
        await nc.close()
    return ids


def write_folder(folder: Path, files: int) -> None:
    folder.mkdir(parents=True)
    for n in range(files):
        (folder / f"note-{n}.md").write_text(
            f"# Note {n} of {folder.name}\n\nThe {folder.name} team met on day {n} and "
            f"agreed on item {n * 3}. Follow-up {n} is due next week."
        )


async def test_the_subscriber_survives_a_sigkill_and_applies_each_event_once(
    system: RunningSystem, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(base_url=system.url, timeout=60) as client:
        account = {"username": "downstream", "password": "correct horse battery"}
        assert await register(client, account) == 201
        tokens = (await client.post("/api/v1/auth/login", json=account)).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}

        async def create_and_index(name: str, files: int) -> tuple[str, str]:
            write_folder(system.sources / name, files)
            created = await client.post("/api/v2/collections", json={"name": name}, headers=auth)
            assert created.status_code == 201, created.text
            cid = created.json()["id"]
            body = {"path": str(system.sources / name)}
            added = await client.post(f"/api/v2/collections/{cid}/sources", json=body, headers=auth)
            assert added.status_code == 202, added.text
            return cid, added.json()["operation"]["id"]

        subscriber = Subscriber(system, tmp_path / "table.db", tmp_path / "subscriber.out")
        subscriber.start()
        first = [await create_and_index(f"team-{n}", 3 + n) for n in range(3)]

        async def applied_some() -> bool:
            assert subscriber.running(), subscriber.out.read_text()
            return sum(int(row["applied_events"]) for row in subscriber.rows().values()) >= 4

        await eventually(applied_some, "the subscriber applied its first events")
        subscriber.stop(signal.SIGKILL)  # while the indexes run and their events flow

        # Events go on while it is down: more indexes, a rename, a delete.
        later = [await create_and_index(f"team-{n}", 2) for n in range(3, 5)]
        for _, op_id in first + later:
            assert (await wait_operation(client, auth, op_id))["status"] == "completed"
        renamed, removed = first[0][0], first[1][0]
        patch = {"name": "team-zero"}
        reply = await client.patch(f"/api/v2/collections/{renamed}", json=patch, headers=auth)
        assert reply.status_code == 200, reply.text
        deleted = await client.delete(f"/api/v2/collections/{removed}", headers=auth)
        assert deleted.status_code == 204, deleted.text

        subscriber.start()
        ours = {cid for cid, _ in first + later}

        async def caught_up() -> bool:
            assert subscriber.running(), subscriber.out.read_text()
            in_stream = await stream_event_ids(system)
            rows = subscriber.rows()
            counts = {cid: rows.get(cid, {}).get("applied_events") for cid in ours}
            return ours <= set(in_stream) and counts == {c: len(in_stream[c]) for c in ours}

        # Events the killed subscriber had fetched but not acked come back only after
        # the example's ack_wait (30 s): the rest of the catch-up shares the time left
        # with a loaded machine, which once took more than the default 60 s.
        await eventually(caught_up, "the table applied every event in the stream", 120)

        async def equals_the_api() -> bool:
            rows = subscriber.rows()
            for cid in ours:
                reply = await client.get(f"/api/v2/collections/{cid}", headers=auth)
                if cid == removed:
                    assert reply.status_code == 404, reply.text
                    if not rows[cid]["deleted"]:
                        return False
                    continue
                view = reply.json()
                if any(rows[cid][field] != view[field] for field in COMPARED):
                    return False
            return True

        # Events still in flight (a status change after the last count) settle first.
        await eventually(equals_the_api, f"table {subscriber.rows()} equals the API")
        rows = subscriber.rows()
        assert rows[renamed]["name"] == "team-zero"
        assert all(rows[cid]["status"] == "ready" for cid in ours - {removed})
        assert all(rows[cid]["document_count"] > 0 for cid in ours - {removed})

        # No effect twice: each collection's applied count is its number of distinct
        # event ids in the stream, and each recorded id once.
        in_stream = await stream_event_ids(system)
        with sqlite3.connect(subscriber.db) as connection:
            recorded = Counter(
                cid
                for (cid,) in connection.execute(
                    "SELECT collection_id FROM semantik_applied_events"
                )
            )
        for cid in ours:
            assert rows[cid]["applied_events"] == len(in_stream[cid]) == recorded[cid]

        # Every event delivered again (the consumer dropped and made anew, as after a heal
        # replay): each one is recognised and skipped, and the table does not change.
        subscriber.stop(signal.SIGTERM)
        nc = await nats.connect(
            nats_env(system)["NATS_URL"],
            user="subscriber",
            password=nats_env(system)["NATS_PASSWORD"],
            inbox_prefix="_INBOX.subscriber",
        )
        try:
            assert await nc.jetstream().delete_consumer(STREAM, "collections-table")
        finally:
            await nc.close()
        before, reports = subscriber.rows(), len(subscriber.reports())
        subscriber.start()
        total = sum(len(ids) for ids in in_stream.values())

        async def all_skipped() -> bool:
            seen = subscriber.reports()[reports:]
            return bool(seen) and seen[-1]["skipped"] >= total

        await eventually(all_skipped, "every event delivered again and skipped")
        subscriber.stop(signal.SIGTERM)
        assert subscriber.reports()[-1]["applied"] == 0
        assert subscriber.rows() == before

        # The example's own check against the API agrees.
        env = {
            **os.environ,
            "SEMANTIK_USERNAME": account["username"],
            "SEMANTIK_PASSWORD": account["password"],
        }
        db = f"sqlite:///{subscriber.db}"
        verify = await asyncio.create_subprocess_exec(
            sys.executable,
            str(EXAMPLE),
            "--db",
            db,
            "--verify",
            system.url,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        said, _ = await asyncio.wait_for(verify.communicate(), 60)
        assert verify.returncode == 0, said.decode()
