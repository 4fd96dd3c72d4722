"""What the embedders report becomes each document's status; a failed embedding is
published again by the next scan, and its previous vectors are kept until then."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import pytest
from semantik_contracts import DocumentStatus
from semantik_contracts.commands import ListDocuments
from semantik_contracts.events import ChunksEmbedded, EmbeddingFailed
from semantik_contracts.subjects import INGEST, command_subject
from semantik_contracts.views import DocumentView, Page
from semantik_contracts.work import EmbedChunks

from services.ingest.tests.harness import Harness
from services.ingest.tests.scans import stats_of

pytestmark = pytest.mark.integration


async def report(h: Harness, message: EmbedChunks, failure: str | None = None) -> None:
    """Say what an embedder says once it wrote (or gave up on) a work item."""
    common = {
        "collection_id": message.collection_id,
        "operation_id": message.operation_id,
        "document_id": message.document_id,
        "generation": message.generation,
        "chunk_count": len(message.chunks),
        "work_id": message.work_id,
    }
    event = (
        ChunksEmbedded(**common) if failure is None else EmbeddingFailed(**common, reason=failure)
    )
    await h.publish("embedding", uuid4(), event)  # an id of its own, as the work id is


async def listed(h: Harness, **query: object) -> Page[DocumentView]:
    request = ListDocuments(collection_id=h.collection_id, **query)  # type: ignore[arg-type]
    subject = command_subject(INGEST, "ListDocuments")
    return await h.bus.request(subject, request, Page[DocumentView])


async def statuses(h: Harness, expected: int) -> dict[str, DocumentView]:
    for _ in range(600):
        page = await listed(h)
        views = {view.path.rsplit("/", 1)[1]: view for view in page.items}
        if sum(v.status is not DocumentStatus.PENDING for v in views.values()) >= expected:
            return views
        await asyncio.sleep(0.1)
    raise AssertionError(f"the embedders' reports did not arrive: {views}")


async def test_document_status_and_a_failed_embedding_retried(harness: Harness) -> None:
    h = harness
    docs = h.root / "docs"
    docs.mkdir()
    (docs / "ok.md").write_text("# Fine\n\nThis one embeds.\n")
    (docs / "flaky.md").write_text("# Flaky\n\nThis one fails to embed once.\n")
    (docs / "waiting.md").write_text("# Waiting\n\nNo embedder has taken this yet.\n")
    (docs / "empty.txt").write_text("")
    await h.start()
    source = await h.add_source(docs)
    first = await h.request([source])
    await h.scan_events(first)
    work = {m.chunks[0].payload["path"].rsplit("/", 1)[1]: m for _, m in await h.take_work()}
    await report(h, work["ok.md"])
    await report(h, work["flaky.md"], failure="CUDA out of memory")

    views = await statuses(h, 3)
    assert {name: view.status for name, view in views.items()} == {
        "empty.txt": DocumentStatus.FAILED,
        "flaky.md": DocumentStatus.FAILED,
        "ok.md": DocumentStatus.INDEXED,
        "waiting.md": DocumentStatus.PENDING,
    }
    assert views["flaky.md"].reason == "embedding failed: CUDA out of memory"
    assert views["empty.txt"].reason == "empty document" and views["empty.txt"].id is None
    assert views["ok.md"].embedded_chunks == views["ok.md"].chunk_count == 1
    failed = await listed(h, status=DocumentStatus.FAILED)
    assert sorted(v.path.rsplit("/", 1)[1] for v in failed.items) == ["empty.txt", "flaky.md"]
    assert (await listed(h, limit=1, offset=1)).items[0].path.endswith("flaky.md")
    assert (await listed(h, source_ids=[UUID(int=1)])).total == 0  # a removed source

    # The next scan publishes the failed one again (nothing else), under a new work id.
    second = await h.request([source])
    stats = stats_of(await h.scan_events(second))
    assert (stats.new_documents, stats.unchanged_skipped, stats.chunks) == (1, 2, 1)
    [(msg_id, again)] = await h.take_work()
    assert again.document_id == work["flaky.md"].document_id
    assert msg_id == f"{second}:{again.document_id}:g1" != work["flaky.md"].work_id
    await report(h, again)
    views = await statuses(h, 3)
    assert views["flaky.md"].status is DocumentStatus.INDEXED
    assert views["flaky.md"].operation_id == second
