"""What the ingest service's scan tests share: a folder of documents, readers of the
events a scan publishes, and a scan started straight on the application."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from uuid import UUID, uuid4, uuid5

from ingest_service.application import IngestApplication
from ingest_service.scan_aggregate import Scan, ScanSource
from semantik_contracts import OperationType
from semantik_contracts.events import OperationRequested, ScanStats
from semantik_contracts.work import EmbedChunks

from services.ingest.tests.harness import Harness

ALPHA = b"# Alpha\n\nAlpha particles are helium nuclei emitted in radioactive decay.\n"
BRAVO = "Bravo is the letter B in the NATO phonetic alphabet.\n"
CHARLIE = "# Charlie\n\nCharlie writes about chunking markdown by headings.\n"


def write_docs(root: Path) -> Path:
    docs = root / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.md").write_bytes(ALPHA)
    (docs / "b.txt").write_text(BRAVO)
    (docs / "copy-of-a.md").write_bytes(ALPHA)
    (docs / "empty.txt").write_bytes(b"")
    (docs / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    (docs / "report.pdf").write_bytes(b"%PDF-1.7")  # a PDF cut off after its header
    (docs / "photo.jpeg").write_bytes(b"\xff\xd8\xff\xe0")  # not a format of ours
    (docs / "sub" / "c.md").write_text(CHARLIE)
    return docs


def doc_id(h: Harness, data: bytes | str) -> UUID:
    raw = data.encode() if isinstance(data, str) else data
    return uuid5(h.collection_id, hashlib.sha256(raw).hexdigest())


def stats_of(events: list) -> ScanStats:  # type: ignore[type-arg]
    completed = [e.event for e in events if e.type == "ScanCompleted"]
    assert len(completed) == 1
    return completed[0].stats  # type: ignore[no-any-return]


def kinds(events: list) -> Counter[str]:  # type: ignore[type-arg]
    """How many events of each type, leaving out progress reports (they come by time)."""
    return Counter(e.type for e in events if e.type != "ScanProgressed")


async def drain(h: Harness, operation_id: UUID) -> list[tuple[str, EmbedChunks]]:
    """Take work as an embedder would until the operation's scan completed."""
    taken = []
    for _ in range(200):
        taken += await h.take_work(limit=1)
        events = await h.events()
        done = any(
            e.type == "ScanCompleted" and e.event.operation_id == operation_id for e in events
        )
        if done and not await h.waiting_work():
            return taken
    raise AssertionError(f"the scan of {operation_id} did not complete")


def index_scan(app: IngestApplication, sources: list[ScanSource]) -> Scan:
    """The scan of a new index of ``sources``, in a collection of its own."""
    request = OperationRequested(
        collection_id=uuid4(),
        operation_id=uuid4(),
        operation_type=OperationType.INDEX,
        requested_by="u1",
        source_ids=[source.source_id for source in sources],
        model_name="sentence-transformers/all-MiniLM-L6-v2",
        chunk_size=128,
        chunk_overlap=12,
    )
    return app.start_scan(request, sources)
