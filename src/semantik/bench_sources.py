"""``semantik bench sources``: extraction throughput and the cost of a re-scan.

Two figures:
- extraction: documents/s through ingest's extraction processes (read, hash, parse,
  chunk with BM25 terms) on a generated mixed corpus of every document format;
- re-scan: the whole system (``semantik run`` in a temporary data dir) indexes a source
  of ``--files`` small files, then re-scans it unchanged: both times, and how many
  chunks the re-scan embedded (it must be 0).
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from .bench_ingest import running_semantik
from .client import Operation, SemantikClient
from .progress import operation_end
from .session import own_system_login

_VOCABULARY = (
    "river stone glacier orbit tide harvest engine signal archive lantern meadow copper "
    "canyon harbor compass ember falcon granite horizon island jungle kettle lagoon marble"
)
WORDS = _VOCABULARY.split()


def _text(n: int, words: int = 120) -> str:
    picked = [WORDS[(n * 7 + i * 13) % len(WORDS)] for i in range(words)]
    sentences = [" ".join(picked[i : i + 12]).capitalize() + "." for i in range(0, words, 12)]
    return f"Document {n} " + " ".join(sentences)


def _pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (Helvetica), with a correct cross-reference table."""
    lines = [text[i : i + 90] for i in range(0, len(text), 90)]
    shown = " ".join(f"({line}) Tj T*" for line in lines)
    stream = f"BT /F1 10 Tf 14 TL 40 800 Td {shown} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _office(kind: str, text: str) -> bytes:
    out = io.BytesIO()
    if kind == "docx":
        import docx

        document = docx.Document()
        document.add_heading("Title", level=1)
        document.add_paragraph(text)
        document.save(out)
    else:
        from pptx import Presentation

        deck = Presentation()
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        assert slide.shapes.title is not None
        slide.shapes.title.text = "Title"
        slide.placeholders[1].text_frame.text = text
        deck.save(out)
    return out.getvalue()


def _eml(text: str) -> bytes:
    message = EmailMessage()
    message["Subject"] = "Title"
    message["From"] = "bench@example.org"
    message.set_content(text)
    return message.as_bytes()


def write_mixed_corpus(folder: Path, per_format: int) -> int:
    """``per_format`` files of each document format; returns how many were written."""
    folder.mkdir(parents=True, exist_ok=True)
    writers: dict[str, Callable[[str], bytes]] = {
        "md": lambda t: f"# Title\n\n{t}\n".encode(),
        "txt": lambda t: t.encode(),
        "html": lambda t: f"<html><h1>Title</h1><p>{t}</p></html>".encode(),
        "pdf": _pdf,
        "docx": lambda t: _office("docx", t),
        "pptx": lambda t: _office("pptx", t),
        "eml": _eml,
    }
    count = 0
    for ext, write in writers.items():
        for n in range(per_format):
            (folder / f"{ext}-{n:04}.{ext}").write_bytes(write(_text(n)))
            count += 1
    return count


def bench_extraction(per_format: int, workers: int) -> dict[str, Any]:
    from ingest_service.extraction.pool import ExtractionPool
    from ingest_service.extraction.preparation import ChunkJob, chunk_jobs, read_file

    async def run(paths: list[Path]) -> float:
        pool = ExtractionPool(workers, niceness=0)
        try:
            await pool.run(chunk_jobs, [])  # start the processes before the clock
            started = time.perf_counter()

            async def one(path: Path) -> None:
                unit = read_file(str(path), str(path), 50 << 20)
                assert not isinstance(unit, Exception), unit
                job = ChunkJob(unit, uuid.uuid4(), {}, 256, 25)
                [result] = await pool.run(chunk_jobs, [job])
                assert not isinstance(result, Exception), result

            await asyncio.gather(*(one(path) for path in paths))
            return time.perf_counter() - started
        finally:
            pool.close()

    with tempfile.TemporaryDirectory(prefix="semantik-bench-") as tmp:
        count = write_mixed_corpus(Path(tmp), per_format)
        seconds = asyncio.run(run(sorted(Path(tmp).iterdir())))
    return {
        "documents": count,
        "workers": workers,
        "seconds": round(seconds, 2),
        "documents_per_s": round(count / seconds, 1),
    }


async def _finish(client: SemantikClient, operation_id: uuid.UUID) -> tuple[Operation, float]:
    started = time.perf_counter()
    op = await operation_end(client, operation_id)
    return op, time.perf_counter() - started


async def _index_twice(url: str, data_dir: Path, folder: Path) -> dict[str, Any]:
    async with SemantikClient(url, timeout=120) as client:
        await own_system_login(client, data_dir)
        collection = await client.create_collection("bench")
        added = await client.add_source(collection.id, folder)
        first, first_seconds = await _finish(client, added.operation.id)
        again = await client.index(collection.id)
        rescan, rescan_seconds = await _finish(client, again.id)
    return {
        "files": first.stats["total_files_found"],
        "first_ingest_seconds": round(first_seconds, 2),
        "first_chunks_embedded": first.processed,
        "rescan_seconds": round(rescan_seconds, 2),
        "rescan_embedded": rescan.processed,
        "rescan_unchanged_skipped": rescan.stats["unchanged_skipped"],
    }


def bench_rescan(files: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="semantik-bench-") as tmp:
        sources = Path(tmp) / "sources"
        folder = sources / "notes"
        folder.mkdir(parents=True)
        for n in range(files):
            (folder / f"note-{n:05}.md").write_text(f"# Note {n}\n\n{_text(n, 60)}\n")
        data_dir = Path(tmp) / "data"
        with running_semantik(data_dir, SEMANTIK_SOURCE_ROOTS=str(sources)) as url:
            return asyncio.run(_index_twice(url, data_dir, folder))
