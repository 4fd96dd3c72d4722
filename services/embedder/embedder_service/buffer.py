"""Chunks fetched and waiting for the model, and the signals the pipeline loops wait on."""

from __future__ import annotations

import asyncio
from collections import deque

from .jobs import Job


def lane_share(waiting: int, batch_chunks: int, lanes: int, floor: int) -> int:
    """Chunks for a lane's next call: a full batch while enough waits for every lane,
    else an even share of what waits (at least ``floor``), so that at the end of a queue
    the lanes finish together instead of one encoding a last full batch alone (on 2
    cores, a last 128-chunk call alone left half the CPU idle for 3 s)."""
    return max(1, min(batch_chunks, max(floor, -(-waiting // lanes))))


class WorkBuffer:
    """Jobs with chunks not yet taken into an encoding batch, first come first served.

    It holds about ``batches`` batches (one more than the batches encoded at once):
    enough that the next batch is ready the moment the model is free, little enough
    that other embedders of the model get work too and nothing waits here long enough
    to run out its ack wait.
    """

    def __init__(self, batch_chunks: int, batches: int = 2) -> None:
        self.batch_chunks = batch_chunks
        self.capacity = batches * batch_chunks
        self._jobs: deque[Job] = deque()
        self.chunks = 0  # chunks not yet taken
        self._per_message = 8.0  # running average, to size fetches
        self.has_work = asyncio.Event()
        self.has_batch = asyncio.Event()
        self.has_room = asyncio.Event()
        self._signal()

    def _signal(self) -> None:
        (self.has_work.set if self._jobs else self.has_work.clear)()
        (self.has_batch.set if self.chunks >= self.batch_chunks else self.has_batch.clear)()
        (self.has_room.set if self.chunks < self.capacity else self.has_room.clear)()

    def fetch_size(self) -> int:
        """How many messages to ask for: about what fills the buffer."""
        room = self.capacity - self.chunks
        return max(1, min(64, round(room / self._per_message)))

    def add(self, job: Job) -> None:
        self._per_message = 0.9 * self._per_message + 0.1 * max(1, job.size)
        self._jobs.append(job)
        self.chunks += job.size - job.taken
        self._signal()

    def take(self, limit: int | None = None) -> tuple[list[str], list[tuple[Job, int, int]]]:
        """The next batch (at most ``limit`` chunks, a full batch by default): its texts,
        and for each job that contributed, the index of its first chunk in the batch and
        how many."""
        limit = min(limit or self.batch_chunks, self.batch_chunks)
        texts: list[str] = []
        segments: list[tuple[Job, int, int]] = []
        while self._jobs and len(texts) < limit:
            job = self._jobs[0]
            n = min(job.size - job.taken, limit - len(texts))
            texts.extend(c.embedded_text for c in job.work.chunks[job.taken : job.taken + n])
            segments.append((job, job.taken, n))
            job.taken += n
            if job.taken == job.size:
                self._jobs.popleft()
        self.chunks -= len(texts)
        self._signal()
        return texts, segments

    def remove(self, job: Job) -> None:
        """Drop a failed job's chunks that were not taken yet."""
        if job in self._jobs:
            self._jobs.remove(job)
            self.chunks -= job.size - job.taken
            self._signal()

    def clear(self) -> None:
        self._jobs.clear()
        self.chunks = 0
        self._signal()
