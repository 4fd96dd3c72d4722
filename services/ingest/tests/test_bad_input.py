"""Bad input: every broken file fails alone with a reason; the scan completes."""

from __future__ import annotations

import asyncio

import pytest

from services.ingest.tests.corpus import write_bad_corpus, write_tolerated
from services.ingest.tests.harness import Harness
from services.ingest.tests.scans import stats_of

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

LIMIT = 1 << 20  # the harness's SEMANTIK_MAX_FILE_BYTES
FILLERS = 120


async def test_each_bad_file_fails_with_a_reason_and_nothing_else_is_lost(
    harness: Harness,
) -> None:
    h = harness
    folder = h.root / "inbox"
    expected = write_bad_corpus(folder, LIMIT)
    tolerated = write_tolerated(folder, LIMIT)
    # Enough files ahead of it that the scan stalls at the gate before reading it (the
    # batches under way and the one being gathered hold about 70).
    for n in range(FILLERS):
        (folder / f"a-note-{n:03}.txt").write_text(f"Filler note number {n}.\n")
    (folder / "zz-vanishes.txt").write_text("gone before it is read\n")
    await h.start(max_pending=1)
    operation_id = await h.request([await h.add_source(folder)])
    for _ in range(1200):
        if await h.waiting_work() == 1:
            break
        await asyncio.sleep(0.05)
    (folder / "zz-vanishes.txt").unlink()  # listed by the walk, gone when read
    expected["zz-vanishes.txt"] = "cannot open: No such file or directory"

    work = []
    events = None
    for _ in range(600):
        work += await h.take_work()
        events = [
            e for e in await h.events() if getattr(e.event, "operation_id", None) == operation_id
        ]
        if any(e.type == "ScanCompleted" for e in events):
            break
    assert events is not None
    work += await h.take_work()
    failures = {
        e.event.path.rsplit("/", 1)[1]: e.event.reason for e in events if e.type == "DocumentFailed"
    }
    assert set(failures) == set(expected)
    for name, reason in expected.items():
        assert failures[name].startswith(reason), (name, failures[name])

    chunks: dict[str, list[str]] = {}
    for _, message in work:  # a large document travels in several messages
        for chunk in message.chunks:
            name = chunk.payload["path"].rsplit("/", 1)[1].split("#")[0]
            chunks.setdefault(name, []).append(chunk.text)
    for name, phrase in tolerated.items():
        assert any(phrase in text for text in chunks[name]), name
    assert len(chunks["one-huge-line.txt"]) > 100  # a single line, chunked by words
    stats = stats_of(events)
    assert stats.failed == len(expected)
    assert stats.new_documents == FILLERS + len(tolerated)
