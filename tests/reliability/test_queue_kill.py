"""Issue 23: a collection's queue of operations on ``semantik run``. Three folders added
at once run one after the other, in order; the collections process SIGKILLed while two
wait loses neither and starts none twice; deleting a collection cancels its queue."""

from __future__ import annotations

import itertools

import httpx
import pytest

from tests.e2e.conftest import RunningSystem
from tests.e2e.test_walking_skeleton import wait_operation, write_sources

from .faults import corpus, stream_events, wait_ready
from .test_process_faults import sigkill

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.slow]


async def test_queued_operations_survive_a_killed_collections_process_and_run_once(
    faulted_system: RunningSystem,
    faulted_client: httpx.AsyncClient,
    faulted_auth: dict[str, str],
) -> None:
    client, headers = faulted_client, {"Authorization": faulted_auth["Authorization"]}
    folders = [
        str(write_sources(faulted_system.sources / f"queue-{n}", corpus(3, 40, f"queue{n}")))
        for n in range(3)
    ]
    created = await client.post("/api/v2/collections", json={"name": "queue"}, headers=headers)
    cid = created.json()["id"]
    added = await client.post(
        f"/api/v2/collections/{cid}/documents", json={"paths": folders}, headers=headers
    )
    assert added.status_code == 202, added.text
    ops = [a["operation"] for a in added.json()["added"]]
    assert [(o["status"], o["queue_position"]) for o in ops] == [
        ("pending", None),
        ("queued", 1),
        ("queued", 2),
    ]
    # SIGKILL the collections service (the queue's owner) while two operations wait.
    await sigkill(faulted_system, "collections", lambda op: True)({})
    await wait_ready(client)
    done = [await wait_operation(client, headers, o["id"], timeout=240) for o in ops]
    assert [o["status"] for o in done] == ["completed"] * 3, done
    assert [o["queue_position"] for o in done] == [None] * 3
    # In order: each started once the one before it had ended.
    for before, after in itertools.pairwise(done):
        assert before["completed_at"] <= after["started_at"], (before, after)
    for op in ops:  # requested from ingest, and started, exactly once
        names = [
            k
            for _, _, k in await stream_events(faulted_system, f"semantik.evt.{cid}.*.{op['id']}.*")
        ]
        assert names.count("OperationRequested") == names.count("OperationStarted") == 1, names
        assert names.count("OperationCompleted") == 1, names
    collection = (await client.get(f"/api/v2/collections/{cid}", headers=headers)).json()
    assert collection["document_count"] == 9, collection

    # Deleting a collection cancels what waits in its queue.
    more = await client.post(f"/api/v2/collections/{cid}/operations/index", headers=headers)
    queued = await client.post(f"/api/v2/collections/{cid}/operations/index", headers=headers)
    assert (more.status_code, queued.json()["status"]) == (202, "queued"), queued.text
    deleted = await client.delete(f"/api/v2/collections/{cid}", headers=headers)
    assert deleted.status_code == 204, deleted.text
    ended = (await client.get(f"/api/v2/operations/{queued.json()['id']}", headers=headers)).json()
    assert (ended["status"], ended["error"], ended["started_at"]) == (
        "cancelled",
        "the collection was deleted",
        None,
    )
