"""Seed 002 US2 and US3 through the whole system: a saved column set applied to a record
source re-embeds its rows with the new columns (search serves them, no row twice), and
failed documents are processed again by ``POST …/documents/retry`` without embedding
what did not fail; bad retries are 4xx that say why."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from semantik_contracts.work import generation_name

from tests.models import TINY_MODEL
from tests.system.system import System
from tests.waiting import eventually

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]


@pytest.fixture
async def system(edge: System) -> System:
    await edge.login()
    return edge


async def documents(system: System, base: str, state: str = "") -> list[dict[str, Any]]:
    query = f"?status={state}&limit=500" if state else "?limit=500"
    page: dict[str, Any] = await system.call("GET", f"{base}/documents{query}")
    items: list[dict[str, Any]] = page["items"]
    return items


async def contexts(system: System, cid: str) -> list[set[str]]:
    reply = await system.call(
        "POST", f"/api/v2/collections/{cid}/search", json={"query": "ticket", "limit": 10}
    )
    return [set(hit["metadata"].get("columns") or {}) for hit in reply["results"]]


async def test_a_column_set_applied_and_failed_documents_retried(system: System) -> None:
    folder = system.sources / "inbox"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nA ticket about the billing page.\n")
    (folder / "empty.md").write_text("")
    table = system.sources / "tickets.csv"
    rows = [
        f"{n},Ticket {n} about billing,Customer {n} reports login trouble,c{n},t{n}"
        for n in range(6)
    ]
    table.write_text("id,title,body,city,team\n" + "\n".join(rows) + "\n")
    collection = await system.call(
        "POST", "/api/v2/collections", json={"name": "tickets", "model_name": TINY_MODEL}
    )
    cid = collection["id"]
    base = f"/api/v2/collections/{cid}"
    for body in (
        {"name": "by title", "text_columns": ["title"], "context_columns": ["city"]},
        {"name": "by body", "text_columns": ["body"], "context_columns": ["team"]},
    ):
        await system.call("POST", f"{base}/column-sets", json=body)
    inbox = await system.call("POST", f"{base}/sources", json={"path": str(folder)})
    assert (await system.operation_done(inbox["operation"]["id"]))["status"] == "completed"
    added = await system.call(
        "POST",
        f"{base}/sources",
        json={"path": str(table), "text_columns": ["title"], "context_columns": ["city"]},
    )
    assert (await system.operation_done(added["operation"]["id"]))["status"] == "completed"
    await eventually(lambda: _all_are(system, cid, {"city"}))

    # US3: the other set applied; search serves the new rows, and no row twice.
    started = await system.call(
        "POST",
        f"{base}/sources/reembed",
        json={"source_ids": [added["source"]["id"]], "column_set": "by body"},
    )
    [source] = started["sources"]
    assert source["text_columns"] == ["body"]
    assert (await system.operation_done(started["operation"]["id"]))["status"] == "completed"
    await eventually(lambda: _all_are(system, cid, {"team"}))
    table_docs = [d for d in await documents(system, base) if d["path"].startswith(str(table))]
    assert len(table_docs) == len(rows)

    # US2: the empty file failed; written since, a retry indexes it and nothing else.
    [failed] = await documents(system, base, "failed")
    assert failed["path"].endswith("empty.md") and failed["id"] is None
    good = next(d for d in await documents(system, base) if d["path"].endswith("good.md"))
    (folder / "empty.md").write_text("# Empty\n\nNot empty any more: a ticket about export.\n")
    retried = await system.call("POST", f"{base}/documents/retry")
    assert retried["type"] == "index"
    done = await system.operation_done(retried["id"])
    assert done["status"] == "completed", done
    assert (done["stats"]["new_documents"], done["stats"]["failed"]) == (1, 0), done["stats"]
    assert await documents(system, base, "failed") == []

    # Bad retries: each a 4xx with a reason, and no operation.
    async def refused(body: Any) -> tuple[int, str]:
        reply = await system.client.post(
            f"{base}/documents/retry", json=body, headers=system.headers
        )
        return reply.status_code, reply.text

    assert (await refused({"document_ids": ["not-a-uuid"]}))[0] == 422
    assert (await refused({"document_ids": []}))[0] == 422
    unknown = str(uuid.uuid4())
    code, text = await refused({"document_ids": [unknown]})
    assert code == 404 and unknown in text
    code, text = await refused({"document_ids": [good["id"]]})
    assert code == 409 and "did not fail" in text
    code, text = await refused(None)
    assert code == 409 and "no document of this collection failed" in text


async def _all_are(system: System, cid: str, wanted: set[str]) -> bool:
    found = await contexts(system, cid)
    rows = [c for c in found if c]  # the markdown file has no columns
    return len(rows) >= 6 and all(c == wanted for c in rows)


#: Rows of the table re-embedded while searches run: enough for a cancel to land midway.
ROWS = 600


def write_table(path: Path, rows: int) -> None:
    lines = [
        f"{n},Ticket {n} about billing,Customer {n} reports login trouble,c{n % 7},t{n % 5}"
        for n in range(rows)
    ]
    path.write_text("id,title,body,city,team\n" + "\n".join(lines) + "\n")


async def test_search_switches_from_old_rows_to_new_at_once_and_a_cancel_keeps_the_old(
    system: System,
) -> None:
    table = system.sources / "big.csv"
    write_table(table, ROWS)
    collection = await system.call(
        "POST", "/api/v2/collections", json={"name": "big", "model_name": TINY_MODEL}
    )
    cid = collection["id"]
    base = f"/api/v2/collections/{cid}"
    body = {"path": str(table), "text_columns": ["title"], "context_columns": ["city"]}
    added = await system.call("POST", f"{base}/sources", json=body)
    assert (await system.operation_done(added["operation"]["id"]))["status"] == "completed"
    source_id = added["source"]["id"]
    old = await system.call("GET", base)

    # Searches while the new columns are embedded: every answer is a full page of old
    # rows or of new ones, never a mix and never empty; once new, never old again.
    started = await system.call(
        "PATCH",
        f"{base}/sources/{source_id}",
        json={"text_columns": ["body"], "context_columns": ["team"]},
    )
    operation_id = started["operation"]["id"]
    assert started["operation"]["type"] == "reindex"
    seen: list[str] = []
    while True:
        op = await system.call("GET", f"/api/v2/operations/{operation_id}")
        found = await contexts(system, cid)
        kinds = {frozenset(c) for c in found}
        assert len(found) == 10 and len(kinds) == 1, found
        seen.append("new" if kinds == {frozenset({"team"})} else "old")
        if op["status"] in ("completed", "failed", "cancelled"):
            break
    assert op["status"] == "completed", op
    assert await _all_are(system, cid, {"team"})
    switches = [n for n in range(1, len(seen)) if seen[n] != seen[n - 1]]
    assert len(switches) <= 1 and seen[0] == "old", seen
    after = await system.call("GET", base)
    assert after["active_generation"] == old["active_generation"] + 1
    assert after["document_count"] == ROWS

    # A re-embed cancelled midway: the rows stay the previous ones, all of them, and the
    # partial generation is dropped.
    again = await system.call(
        "POST",
        f"{base}/sources/reembed",
        json={"source_ids": [source_id], "text_columns": ["title"], "context_columns": ["city"]},
    )
    cancelled_id = again["operation"]["id"]

    async def embedding() -> bool:
        op = await system.call("GET", f"/api/v2/operations/{cancelled_id}")
        assert op["status"] != "completed", "finished before it could be cancelled"
        return bool(op["status"] == "processing" and op["processed"] > 0)

    await eventually(embedding)
    await system.call("POST", f"/api/v2/operations/{cancelled_id}/cancel")
    assert (await system.operation_done(cancelled_id))["status"] == "cancelled"
    assert await _all_are(system, cid, {"team"})
    final = await system.call("GET", base)
    assert (final["active_generation"], final["document_count"]) == (
        after["active_generation"],
        ROWS,
    )
    staging = generation_name(UUID(cid), after["active_generation"] + 1)

    async def dropped() -> bool:
        return not system.store.has_generation(staging)

    await eventually(dropped)
    table_docs = await documents(system, base)
    assert len(table_docs) == min(500, ROWS)
    page = await system.call("GET", f"{base}/documents?limit=1")
    assert page["total"] == ROWS
