"""``semantik bench ingest``: ingest throughput of the whole system against bare encoding.

A corpus of generated English-like documents is written into a temporary data dir,
``semantik run`` is started on it, and the corpus is ingested over the REST API as a
user would; then the unchanged folder is scanned again. The same chunks (the ingest
service's chunker, the collection's chunking) are encoded bare with the same model and
call size as the embedder, once before and once after the system's run (averaged,
against load drifting on a shared machine). ``efficiency`` = end-to-end chunks/s over
bare-encode chunks/s (SPEC §10: at least 0.85): bare is ``model.encode`` one call at a
time with torch's default threads, as a user would call it. The embedder's own layout
(several calls at once, model.encoding_lanes) is timed bare too, and
``efficiency_vs_lanes``, the headline, is the ratio against it: what the services
themselves cost; ``overhead_seconds`` is the median of the paired differences between
the system's first ingest and each bare lanes run.

A user's own baseline is timed too: ``bare_fp32_chunks_per_s`` is a fresh
``SentenceTransformer(path).encode(texts)`` of the default model with the library's
defaults (float32, its batch of 32, torch's default threads), warm, on the same chunks;
``speedup_vs_fp32`` = end-to-end chunks/s over it. The system and the embedder-layout
bare runs encode documents at ``SEMANTIK_EMBED_PRECISION`` (``precision`` says which
one the model chose), so ``efficiency_vs_lanes`` stays the services' cost over the same
encoder while ``speedup_vs_fp32`` shows what the precision and the layout gain.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from semantik_contracts.search import DEFAULT_MODEL

from .client import Collection, Operation, SemantikClient
from .lifetime import die_with_parent
from .progress import operation_end
from .session import own_system_login
from .supervisor import free_port


@dataclass(frozen=True)
class IngestBenchResult:
    #: The headline: the system's chunks/s over bare encoding in the embedder's own
    #: layout, i.e. what the services cost over the same encoder (1.0 = nothing).
    efficiency_vs_lanes: float
    #: Seconds the services add to the first ingest: the median, over the bare lanes
    #: runs (one before, one after the system's), of system seconds minus bare seconds.
    overhead_seconds: float
    chunks: int
    e2e_chunks_per_s: float
    encode_chunks_per_s: float
    efficiency: float
    encode_lanes_chunks_per_s: float
    rescan_embedded: int
    rescan_seconds: float
    first_ingest_seconds: float
    #: A user's baseline: plain ``SentenceTransformer(path).encode`` in float32 with the
    #: library's defaults, warm, on the same chunks (before and after, averaged).
    bare_fp32_chunks_per_s: float
    #: ``e2e_chunks_per_s / bare_fp32_chunks_per_s``: the system against that baseline.
    speedup_vs_fp32: float
    #: What the system's documents were encoded in (``SEMANTIK_EMBED_PRECISION``).
    precision: str


def _vocabulary() -> list[str]:
    """Whole English words of the default model's vocabulary (no hub, no word list)."""
    from ingest_service.extraction.chunking import default_tokenizer

    words = [w for w in default_tokenizer().get_vocab() if w.isalpha() and len(w) > 2]
    return sorted(words)


def write_corpus(folder: Path, documents: int, words: int, seed: int = 7) -> None:
    """``documents`` files of about ``words`` words each, in sentences and paragraphs."""
    vocabulary = _vocabulary()
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(documents):
        sentences, count = [], 0
        while count < words:
            length = rng.randint(6, 18)
            sentence = " ".join(rng.choices(vocabulary, k=length))
            sentences.append(sentence.capitalize() + ".")
            count += length
        paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
        (folder / f"doc-{n:05d}.md").write_text(f"# Document {n}\n\n" + "\n\n".join(paragraphs))


#: Settings of the caller's shell that would point a bench's own system elsewhere.
SYSTEM_CHOICES = frozenset(
    {
        "NATS_URL",
        "DATABASE_URL",
        "QDRANT_URL",
        "SEMANTIK_URL",
        "SEMANTIK_HOST",
        "SEMANTIK_PORT",
        "SEMANTIK_DATA_DIR",
        "SEMANTIK_SOURCE_ROOTS",
    }
)


@contextlib.contextmanager
def running_semantik(data_dir: Path, **settings: str) -> Iterator[str]:
    """``semantik run`` on ``data_dir`` (own NATS, SQLite, Qdrant Edge), ready; its URL.

    Nothing of the caller's environment chooses where it runs or what it reads: its own
    port, roots (``<data dir>/sources`` unless ``settings`` say) and infrastructure.
    ``settings`` are further environment variables for it (``SEMANTIK_SOURCE_ROOTS=...``)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in SYSTEM_CHOICES}
    env.update(
        SEMANTIK_DATA_DIR=str(data_dir),
        SEMANTIK_HOST="127.0.0.1",
        SEMANTIK_PORT=str(port),
        SEMANTIK_SOURCE_ROOTS=str(data_dir / "sources"),
        LOG_LEVEL="WARNING",
    )
    env.update(settings)
    semantik = Path(sys.executable).parent / "semantik"
    process = subprocess.Popen(
        [str(semantik), "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent(),  # a SIGKILLed bench stops its system too
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"semantik run did not become ready; see {data_dir}/logs")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    break
            time.sleep(0.5)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


async def _finish(client: SemantikClient, operation_id: uuid.UUID) -> Operation:
    """The operation's final state once its ending reaches the client (over the
    WebSocket, as ``semantik ingest`` follows it); an operation that did not complete
    fails the benchmark."""
    op = await operation_end(client, operation_id)
    if op.status != "completed":
        raise RuntimeError(f"the benchmark's operation {op.status}: {op.error}")
    return op


@dataclass(frozen=True)
class Ingested:
    collection: Collection
    first: Operation
    first_seconds: float
    rescan: Operation
    rescan_seconds: float


async def _ingest(url: str, data_dir: Path, folder: Path) -> Ingested:
    """Index ``folder`` into a new collection, then re-scan it unchanged; both timed
    from the request to the operation's completion as the API reports it."""
    async with SemantikClient(url) as client:
        await own_system_login(client, data_dir)
        collection = await client.create_collection("bench")
        started = time.perf_counter()
        added = await client.add_source(collection.id, folder)
        first = await _finish(client, added.operation.id)
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = await client.index(collection.id)
        rescan = await _finish(client, again.id)
        return Ingested(collection, first, first_seconds, rescan, time.perf_counter() - started)


@dataclass(frozen=True)
class BareRun:
    """One pass of bare encoding over the corpus's chunks: how many, and the seconds."""

    chunks: int
    plain_seconds: float
    lanes_seconds: float
    fp32_seconds: float
    precision: str


def bare_fp32_seconds(texts: list[str]) -> float:
    """Seconds of a fresh ``SentenceTransformer`` of the default model, with every
    default of the library (float32, batch 32, torch's threads), encoding ``texts``
    after one warm-up call: what a user who calls the library alone would see."""
    from semantik_runtime.models import installed_models
    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(str(installed_models()[DEFAULT_MODEL.name].path))
    encoder.encode(texts[:32])
    started = time.perf_counter()
    encoder.encode(texts)
    return time.perf_counter() - started


def bare_encode_seconds(folder: Path, chunk_size: int, chunk_overlap: int) -> BareRun:
    """Chunk the corpus as ingest does and encode it in the embedder's calls: one call at
    a time with torch's default threads, then in the embedder's lanes (both at the
    precision the embedder's settings give), then as a user's plain float32 call."""
    from embedder_service.buffer import lane_share
    from embedder_service.config import EmbedderSettings
    from embedder_service.model import encoder_thread, encoding_lanes, load_model
    from ingest_service.extraction.preparation import ChunkJob, chunk_jobs
    from ingest_service.extraction.units import read_file_unit

    jobs = [
        ChunkJob(
            read_file_unit(str(p), str(p), 1 << 30), uuid.uuid4(), {}, chunk_size, chunk_overlap
        )
        for p in sorted(folder.iterdir())
    ]
    texts = []
    for chunks in chunk_jobs(jobs):
        if isinstance(chunks, Exception):
            raise chunks
        texts += [chunk.text for chunk in chunks]
    model = load_model(precision=EmbedderSettings().precision)
    call = 4 * model.batch_size  # the embedder's chunks per encode call
    calls = [texts[start : start + call] for start in range(0, len(texts), call)]
    model.encode(texts[:call])  # warm-up, as the running embedder is warm
    started = time.perf_counter()
    for part in calls:
        model.encode(part)
    plain = time.perf_counter() - started
    count, threads = encoding_lanes(model.device)
    queue, lock = list(texts), threading.Lock()

    def lane() -> None:
        """Take calls off the shared queue as the embedder's lanes share its buffer."""
        while True:
            with lock:
                size = lane_share(len(queue), call, count, model.batch_size // 4)
                part = queue[:size]
                del queue[:size]
            if not part:
                return
            model.encode(part)

    with encoder_thread("bench-lane", threads, count) as lanes:
        list(lanes.map(model.encode, [texts[:call]] * count))  # each lane warm
        started = time.perf_counter()
        list(lanes.map(lambda _: lane(), range(count)))
        in_lanes = time.perf_counter() - started
    fp32 = bare_fp32_seconds(texts)
    return BareRun(len(texts), plain, in_lanes, fp32, model.precision)


def run_ingest_bench(documents: int = 400, words: int = 170) -> IngestBenchResult:
    with tempfile.TemporaryDirectory(prefix="semantik-bench-") as tmp:
        data_dir = Path(tmp)
        folder = data_dir / "sources" / "corpus"
        write_corpus(folder, documents, words)
        # Bare encoding is timed before and after the system's run, and averaged: on a
        # shared machine the load drifts, and one side alone would carry all of it.
        size, overlap = DEFAULT_MODEL.max_seq_length, DEFAULT_MODEL.max_seq_length // 10
        before = bare_encode_seconds(folder, size, overlap)
        with running_semantik(data_dir) as url:
            ingested = asyncio.run(_ingest(url, data_dir, folder))
        collection = ingested.collection
        if (collection.chunk_size, collection.chunk_overlap) != (size, overlap):
            raise RuntimeError("the collection's chunking is not the default model's")
        chunks = ingested.first.processed
        after = bare_encode_seconds(folder, size, overlap)
        encode_seconds = (before.plain_seconds + after.plain_seconds) / 2
        lanes_runs = [before.lanes_seconds, after.lanes_seconds]
        lanes_seconds = statistics.mean(lanes_runs)
        fp32_seconds = (before.fp32_seconds + after.fp32_seconds) / 2
    if before.chunks != chunks:
        raise RuntimeError(
            f"the system embedded {chunks} chunks, the bare run made {before.chunks}"
        )
    e2e = chunks / ingested.first_seconds
    encode = chunks / encode_seconds
    in_lanes = chunks / lanes_seconds
    bare_fp32 = chunks / fp32_seconds
    # Paired: each bare run against the same system run; the median resists one side
    # of the pair landing on a burst of the shared machine's load.
    overhead = statistics.median(ingested.first_seconds - bare for bare in lanes_runs)
    return IngestBenchResult(
        efficiency_vs_lanes=round(e2e / in_lanes, 3),
        overhead_seconds=round(overhead, 2),
        chunks=chunks,
        e2e_chunks_per_s=round(e2e, 2),
        encode_chunks_per_s=round(encode, 2),
        efficiency=round(e2e / encode, 3),
        encode_lanes_chunks_per_s=round(in_lanes, 2),
        rescan_embedded=ingested.rescan.processed,
        rescan_seconds=round(ingested.rescan_seconds, 2),
        first_ingest_seconds=round(ingested.first_seconds, 2),
        bare_fp32_chunks_per_s=round(bare_fp32, 2),
        speedup_vs_fp32=round(e2e / bare_fp32, 3),
        precision=before.precision,
    )
