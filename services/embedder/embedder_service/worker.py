"""The embedding pipeline of one model: fetch work → encode → write → event → ack.

Three loops overlap so the model is never idle while work is queued: the fetcher keeps
a batch more than the encoding lanes take buffered (buffer.py), the encoder takes
batches of up to ``batch_chunks`` chunks across messages (a large document spans
several batches) and encodes as many at once as there are lanes (model.encoding_lanes:
one per core, single-threaded, on a CPU; one on a GPU), and the writer upserts a
finished batch while the next ones are being encoded.

A message is acknowledged only after its points are written and its ``ChunksEmbedded``
is published (a crash in between redelivers it: the points are overwritten, having
deterministic ids, and the event is de-duplicated by its id). A message that fails on
its last delivery becomes ``EmbeddingFailed`` and is terminated; see also deadletter.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext, api
from pydantic import ValidationError
from semantik_contracts.subjects import (
    WORK_STREAM,
    embed_consumer_name,
    embed_work_subject,
    model_slug,
)
from semantik_contracts.work import EmbedChunks
from semantik_runtime import metrics, telemetry
from semantik_runtime.bus import TRACEPARENT, Bus
from semantik_runtime.vectors import Point

from .buffer import WorkBuffer, lane_share
from .jobs import Job, embedded_event, failed_event, points_of
from .model import EmbeddingModel, encoder_thread, encoding_lanes
from .vector_writer import VectorWriter

log = logging.getLogger(__name__)


class EmbedWorker:
    """A durable pull consumer of one model's work; instances of a model share it."""

    def __init__(
        self,
        bus: Bus,
        writer: VectorWriter,
        model: EmbeddingModel,
        *,
        batch_chunks: int = 128,
        max_wait: float = 0.02,
        ack_wait: float = 30.0,
        max_deliver: int = 5,
        max_ack_pending: int = 1000,
        lanes: int | None = None,
    ) -> None:
        self.bus = bus
        self.writer = writer
        self.model = model
        self.slug = model_slug(model.name)
        self.batch_chunks = batch_chunks
        self.max_wait = max_wait
        self.ack_wait = ack_wait
        self.max_deliver = max_deliver
        self.max_ack_pending = max_ack_pending
        self.lanes, lane_threads = encoding_lanes(model.device, lanes)
        self._buffer = WorkBuffer(batch_chunks, self.lanes + 1)
        self._held: set[Job] = set()  # fetched, not yet acked, naked or terminated
        self._encoded: asyncio.Queue[list[Job]] = asyncio.Queue()
        # Batches are encoded on threads of their own, each lane with its own torch
        # threads, whatever the query thread set for itself.
        self.encoder_thread = encoder_thread(f"{self.slug}-encoder", lane_threads, self.lanes)
        self.embedded_messages = 0  # written and acknowledged by this instance
        self.embedded_chunks = 0

    def consumer_config(self) -> api.ConsumerConfig:
        return api.ConsumerConfig(
            durable_name=embed_consumer_name(self.slug),
            filter_subject=embed_work_subject(self.slug),
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliver,
            max_ack_pending=self.max_ack_pending,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop``. Should the pipeline break, what it held is handed back
        and it starts again: an embedder that silently stops embedding is the worst case."""
        while not stop.is_set():
            try:
                await self._consume(stop)
            except Exception:
                log.exception("the %s embedding pipeline broke; restarting it", self.slug)
                await asyncio.sleep(1.0)

    async def _consume(self, stop: asyncio.Event) -> None:
        sub = await self.bus.js.pull_subscribe(
            embed_work_subject(self.slug),
            durable=embed_consumer_name(self.slug),
            stream=WORK_STREAM,
            config=self.consumer_config(),
        )
        stopped = asyncio.create_task(stop.wait())
        loops = [
            asyncio.create_task(self._fetch(sub, stop)),
            asyncio.create_task(self._encode()),
            asyncio.create_task(self._write()),
            asyncio.create_task(self._keep_alive()),
        ]
        try:
            await asyncio.wait([stopped, *loops], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [stopped, *loops]:
                task.cancel()
            await asyncio.gather(stopped, *loops, return_exceptions=True)
            # A fetch cancelled mid-wait would keep the connection's drain waiting for
            # its inbox; the durable consumer itself stays.
            await self._settle(sub.unsubscribe())
            await self._hand_back()
        for task in loops:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error

    async def _hand_back(self) -> None:
        """Nak everything held, so another embedder (or this one, restarted) takes it now."""
        for job in list(self._held):
            await self._settle(job.msg.nak())
        self._held.clear()
        self._buffer.clear()
        self._encoded = asyncio.Queue()

    async def _fetch(self, sub: JetStreamContext.PullSubscription, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._buffer.has_room.wait()
            try:
                messages = await sub.fetch(self._buffer.fetch_size(), timeout=0.5)
            except (NatsTimeoutError, TimeoutError):
                continue
            except Exception:
                log.warning("fetching %s work failed; retrying", self.slug, exc_info=True)
                await asyncio.sleep(0.5)
                continue
            for msg in messages:
                await self._accept(msg)

    async def _accept(self, msg: Msg) -> None:
        try:
            work = EmbedChunks.model_validate_json(msg.data)
        except ValidationError as exc:
            log.error("%s: not an EmbedChunks message, terminated: %s", msg.subject, exc)
            await self._settle(msg.term())
            return
        job = Job(msg, work, (msg.headers or {}).get(TRACEPARENT))
        if self.writer.was_dropped(job.generation):
            log.info(
                "work %s is for dropped generation %s; discarded", work.work_id, job.generation
            )
            await self._settle(msg.ack())
            return
        self._held.add(job)
        if job.size == 0:
            self._encoded.put_nowait([job])  # nothing to encode; replaces still apply
        else:
            self._buffer.add(job)

    async def _encode(self) -> None:
        """Take batches while a lane is free; each is encoded by a task of its own."""
        free = asyncio.Semaphore(self.lanes)
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                await free.acquire()
                await self._buffer.has_work.wait()
                # A partly filled batch waits a moment for more work to fill it.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._buffer.has_batch.wait(), self.max_wait)
                share = lane_share(
                    self._buffer.chunks, self.batch_chunks, self.lanes, self.model.batch_size // 4
                )
                texts, segments = self._buffer.take(share)
                if not texts:
                    free.release()
                    continue  # the waiting jobs failed meanwhile
                task = asyncio.create_task(self._encode_batch(texts, segments))
                running.add(task)
                task.add_done_callback(running.discard)
                task.add_done_callback(lambda _: free.release())
        finally:
            for task in list(running):
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _encode_batch(self, texts: list[str], segments: list[tuple[Job, int, int]]) -> None:
        started = time.perf_counter()
        try:
            loop = asyncio.get_running_loop()
            vectors = await loop.run_in_executor(self.encoder_thread, self.model.encode, texts)
        except Exception as exc:
            log.exception("encoding %d %s chunks failed", len(texts), self.slug)
            for job in {job for job, _, _ in segments}:
                await self._fail(job, f"encoding failed: {exc}")
            return
        elapsed = time.perf_counter() - started
        metrics.EMBED_BATCH_SECONDS.labels(self.slug).observe(elapsed)
        done: list[Job] = []
        start = 0
        for job, first, n in segments:
            if not job.failed:
                job.pieces[first] = vectors[start : start + n]
                if job.encoded == job.size:
                    done.append(job)
            start += n
        if done:
            self._encoded.put_nowait(done)

    async def _write(self) -> None:
        while True:
            jobs = await self._encoded.get()
            groups: dict[str, list[Job]] = defaultdict(list)
            for job in jobs:
                if not job.failed:
                    groups[job.generation].append(job)
            for name, group in groups.items():
                if self.writer.was_dropped(name):
                    for job in group:
                        await self._finish(job, publish=False)
                    continue
                written = await self._write_group(name, group)
                await asyncio.gather(*(self._finish(job) for job in written))

    async def _write_group(self, name: str, group: list[Job]) -> list[Job]:
        """Write a batch's documents in one call; if that fails, each on its own, so one
        bad document does not fail the others. Returns the jobs that were written."""
        try:
            await self.writer.write(name, self.model.dimension, *_points(group))
            return group
        except Exception:
            if len(group) == 1:
                log.exception("writing %s to %s failed", group[0].work.work_id, name)
                await self._fail(group[0], "writing vectors failed")
                return []
        written = []
        for job in group:
            written += await self._write_group(name, [job])
        return written

    async def _finish(self, job: Job, *, publish: bool = True) -> None:
        try:
            if publish:
                event = embedded_event(job.work, job.traceparent, self.model.precision)
                await self.bus.publish_event(event)
            await job.msg.ack()
            self.embedded_messages += 1
            self.embedded_chunks += job.size
            if publish:
                metrics.EMBEDDED_CHUNKS.labels(self.slug).inc(job.size)
                telemetry.record_span(
                    f"embed {job.work.document_id}",
                    self.bus.name,
                    job.traceparent,
                    job.accepted_at,
                    {"semantik.chunks": job.size, "semantik.model": self.slug},
                )
        except Exception:
            log.warning("completing %s failed; it will be redelivered", job.work.work_id)
            await self._settle(job.msg.nak(delay=1.0))
        self._held.discard(job)

    async def _fail(self, job: Job, reason: str) -> None:
        """Retry later, or on the last delivery publish ``EmbeddingFailed`` and terminate."""
        job.failed = True
        self._buffer.remove(job)
        self._held.discard(job)
        if job.deliveries < self.max_deliver:
            await self._settle(job.msg.nak(delay=min(2.0**job.deliveries, 30.0)))
            return
        try:
            await self.bus.publish_event(failed_event(job.work, reason, job.traceparent))
        except Exception:
            # Left un-acked past its last delivery, it reaches the dead-letter advisory.
            log.exception("publishing EmbeddingFailed for %s failed", job.work.work_id)
            await self._settle(job.msg.nak())
            return
        await self._settle(job.msg.term())

    async def _keep_alive(self) -> None:
        """Tell the server that held messages are in progress, so a long queue or a large
        document is not redelivered to another embedder while this one works on it."""
        while True:
            await asyncio.sleep(self.ack_wait / 4)
            for job in list(self._held):
                await self._settle(job.msg.in_progress())

    def close(self) -> None:
        """Let the encoding thread go once it has finished the batch it is encoding."""
        self.encoder_thread.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    async def _settle(reply: Awaitable[None]) -> None:
        """Await an ack, nak, term or in-progress; the connection may be gone."""
        try:
            await reply
        except Exception:
            log.debug("settling a work message failed", exc_info=True)


def _points(group: list[Job]) -> tuple[list[Point], list[str]]:
    """The points of a group of documents, and the documents they replace."""
    points = [p for job in group for p in points_of(job.work, job.vectors)]
    replaced = [
        str(document)
        for job in group
        for document in job.work.replaces
        if document != job.work.document_id
    ]
    return points, replaced
