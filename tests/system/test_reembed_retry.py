"""Seed 002 US2 and US3 through the whole system: a saved column set applied to a record
source re-embeds its rows with the new columns (search serves them, no row twice), and
failed documents are processed again by ``POST …/documents/retry`` without embedding
what did not fail; bad retries are 4xx that say why."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from embedder_service.model import EmbeddingModel
from ingest_service.extraction.pool import ExtractionPool
from semantik_runtime.vectors.edge import EdgeVectorStore

from tests.models import TINY_MODEL
from tests.system.system import System, eventually, running_system

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]


@pytest.fixture
async def system(
    tmp_path: Path,
    private_nats_url: str,
    tiny_model: EmbeddingModel,
    models_dir: Path,
    extraction_pool: ExtractionPool,
) -> AsyncIterator[System]:
    store = EdgeVectorStore(tmp_path / "qdrant")
    try:
        async with running_system(
            tmp_path, private_nats_url, store, [tiny_model], models_dir, extraction_pool
        ) as running:
            await running.login()
            yield running
    finally:
        store.close()


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
    [item] = started["items"]
    assert item["source"]["text_columns"] == ["body"]
    assert (await system.operation_done(item["operation"]["id"]))["status"] == "completed"
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
