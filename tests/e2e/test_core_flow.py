"""The event-sourced core as a user meets it, over HTTP against ``semantik run``:
quotas, one operation at a time, cancelling a running index (its scan stops, what it
did is kept and counted), ownership, and the audit log."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from .conftest import RunningSystem, semantik_run
from .test_walking_skeleton import login, wait_operation

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PAPERS = 120


@pytest.fixture(scope="module")
def small_quota(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    with semantik_run(
        tmp_path_factory.mktemp("semantik-core"), MAX_COLLECTIONS_PER_USER="2"
    ) as running:
        yield running


async def settled(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, timeout: float = 120
) -> dict[str, Any]:
    """The collection once its counts match the vectors in the store and stay so."""
    deadline = time.monotonic() + timeout
    previous: tuple[int, int] | None = None
    while time.monotonic() < deadline:
        body: dict[str, Any] = (await client.get(url, headers=headers)).json()
        now = (body["chunk_count"], body["vector_count"])
        if now[0] == now[1] and now == previous:
            return body
        previous = now
        await asyncio.sleep(1.5)
    raise AssertionError(f"counts of {url} did not settle: {body}")


async def test_quota_conflict_cancel_and_audit(small_quota: RunningSystem) -> None:
    papers_dir = small_quota.sources / "papers"
    papers_dir.mkdir(parents=True)
    for n in range(PAPERS):
        (papers_dir / f"paper-{n:03}.md").write_text(
            f"# Paper {n}\n\nFinding number {n}: sample {n * 7} reacts with reagent {n % 13}."
        )
    (small_quota.sources / "more").mkdir()
    (small_quota.sources / "more" / "note.txt").write_text("One more note about reagents.")

    async with httpx.AsyncClient(base_url=small_quota.url, timeout=30) as client:
        alice, bob = await login(client, "alice"), await login(client, "bob")
        alice.pop("token")
        bob.pop("token")
        papers = (
            await client.post("/api/v2/collections", json={"name": "papers"}, headers=alice)
        ).json()
        assert (
            await client.post("/api/v2/collections", json={"name": "notes"}, headers=alice)
        ).status_code == 201
        over = await client.post("/api/v2/collections", json={"name": "more"}, headers=alice)
        assert over.status_code == 409 and "at most 2 collections" in over.json()["detail"]

        base = f"/api/v2/collections/{papers['id']}"
        started = await client.post(
            f"{base}/sources", json={"path": str(papers_dir)}, headers=alice
        )
        assert started.status_code == 202
        op_id = started.json()["operation"]["id"]
        busy = await client.post(f"{base}/operations/index", headers=alice)
        assert busy.status_code == 202, busy.text
        assert busy.json()["status"] == "queued"  # waits its turn
        dropped = await client.post(f"/api/v2/operations/{busy.json()['id']}/cancel", headers=alice)
        assert dropped.json()["status"] == "cancelled"
        reindex = await client.post(f"{base}/operations/reindex", json={}, headers=alice)
        assert reindex.status_code == 409

        assert (await client.get(base, headers=bob)).status_code == 403
        assert (await client.get(f"/api/v2/operations/{op_id}", headers=bob)).status_code == 403
        cancel_theirs = await client.post(f"/api/v2/operations/{op_id}/cancel", headers=bob)
        assert cancel_theirs.status_code == 403
        unknown = await client.get(f"/api/v2/collections/{uuid4()}", headers=alice)
        assert unknown.status_code == 404

        cancelled = await client.post(f"/api/v2/operations/{op_id}/cancel", headers=alice)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        # What the stopped scan registered is embedded and counted: no drift. How far
        # it got before the cancel reached it is the machine's speed (a fast one
        # registers all 120 in the requests above); that it stops at all is the ingest
        # service's test (test_service_operations: 0 < registered < all, every one
        # published).
        collection = await settled(client, alice, base)
        assert collection["status"] == "pending" and collection["active_operation_id"] is None
        assert collection["document_count"] <= PAPERS
        assert collection["vector_count"] == collection["chunk_count"]

        index = await client.post(f"{base}/operations/index", headers=alice)
        assert index.status_code == 202
        done = await wait_operation(client, alice, index.json()["id"])
        assert done["status"] == "completed", done
        collection = await settled(client, alice, base)
        assert collection["status"] == "ready"
        assert collection["document_count"] == PAPERS
        assert collection["vector_count"] == collection["chunk_count"] >= PAPERS

        audit = (await client.get("/api/v2/audit", headers=alice)).json()["items"]
        seen = [(e["action"], e["outcome"], e["code"]) for e in audit]
        for expected in [
            ("collection.create", "rejected", "quota_exceeded"),
            ("operation.start", "rejected", "conflict"),
            ("operation.cancel", "accepted", None),
            ("operation.start", "accepted", None),
            ("operation.completed", "completed", None),
        ]:
            assert expected in seen
        theirs = (await client.get("/api/v2/audit", headers=bob)).json()["items"]
        assert [(e["action"], e["code"]) for e in theirs] == [("operation.cancel", "forbidden")]

    # The operator rebuilds the read models from the log: the same answers as before.
    rebuild = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "semantik"),
        "projections",
        "rebuild",
        "--data-dir",
        str(small_quota.data_dir),
        stdout=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "NATS_URL"},
    )
    out, _ = await rebuild.communicate()
    assert rebuild.returncode == 0
    assert "2 collections, 3 operations, 1 sources" in out.decode()
    assert "the same answers as before" in out.decode()
    async with httpx.AsyncClient(base_url=small_quota.url, timeout=30) as client:
        after = (await client.get(base, headers=alice)).json()
    assert after == collection
