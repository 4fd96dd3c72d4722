"""Embed work: one document's chunks as ``EmbedChunks`` messages, and backpressure.

A document normally travels as one message whose id is ``work_id(...)``. One too big
for the server's message size limit is split into parts ``<work id>:p<n>``, the old
points' deletion (``replaces``) riding on the last part.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from uuid import UUID

from semantik_contracts.subjects import WORK_STREAM
from semantik_contracts.work import ChunkWork, EmbedChunks
from semantik_runtime.bus import Bus

from ..domain import work_id

#: Room left in a message for its envelope fields and headers.
_MESSAGE_OVERHEAD = 2048
#: Rough JSON size of one sparse term (index and float value).
_BYTES_PER_TERM = 32


@dataclass(frozen=True, slots=True)
class WorkTarget:
    """Where one document's chunks go."""

    operation_id: UUID
    collection_id: UUID
    generation: int
    model: str
    document_id: UUID


def embed_messages(
    target: WorkTarget, items: list[ChunkWork], replaces: list[UUID], max_bytes: int
) -> list[EmbedChunks]:
    """The document's work, in as few messages under ``max_bytes`` as fit."""
    budget = max(1, max_bytes - _MESSAGE_OVERHEAD)
    parts: list[list[ChunkWork]] = [[]]
    size = 0
    for item in items:
        # Text may double in JSON (escapes); payload values are short.
        text_bytes = len(item.text.encode()) + len(item.header.encode())
        cost = 2 * text_bytes + _BYTES_PER_TERM * len(item.sparse.indices) + 512
        if parts[-1] and size + cost > budget:
            parts.append([])
            size = 0
        parts[-1].append(item)
        size += cost
    base = work_id(target.operation_id, target.document_id, target.generation)
    last = len(parts) - 1
    return [
        EmbedChunks(
            work_id=base if last == 0 else f"{base}:p{n}",
            operation_id=target.operation_id,
            collection_id=target.collection_id,
            generation=target.generation,
            model=target.model,
            document_id=target.document_id,
            chunks=part,
            replaces=replaces if n == last else [],
        )
        for n, part in enumerate(parts)
    ]


class WorkGate:
    """Bounds the chunks this process published to one work subject that no embedder
    has acked yet, so a large scan waits for the embedders instead of flooding the stream.

    The work stream drops a message once it is acked; the gate reads how many messages
    remain on the subject and assumes the oldest were taken first. Chunks still being
    published count as pending too, so concurrent publishers never overshoot the bound.
    """

    def __init__(self, bus: Bus, subject: str, max_pending: int, poll: float = 0.2) -> None:
        self.bus = bus
        self.subject = subject
        self.max_pending = max_pending
        self.poll = poll
        self._ledger: deque[int] = deque()  # chunks of each published message, oldest first
        self._lock = asyncio.Lock()
        self._stored = 0  # chunks in the ledger
        self._in_flight = 0  # chunks admitted and not yet acknowledged by the stream

    @property
    def pending(self) -> int:
        return self._stored + self._in_flight

    async def publish(self, message: EmbedChunks) -> None:
        """Publish one work message once it fits; admission is first come, first served."""
        chunks = len(message.chunks)
        async with self._lock:
            await self._admit(chunks)
            self._in_flight += chunks
        try:
            await self.bus.publish_work(self.subject, message, msg_id=message.message_id)
        finally:
            self._in_flight -= chunks
        self._ledger.append(chunks)
        self._stored += chunks

    async def _admit(self, chunks: int) -> None:
        """Wait until ``chunks`` more fit under the bound (a lone big message always fits)."""
        while self.pending and self.pending + chunks > self.max_pending:
            await self._refresh()
            if self.pending and self.pending + chunks > self.max_pending:
                await asyncio.sleep(self.poll)

    async def _refresh(self) -> None:
        info = await self.bus.js.stream_info(WORK_STREAM, subjects_filter=self.subject)
        remaining = (info.state.subjects or {}).get(self.subject, 0)
        while len(self._ledger) > remaining:
            self._stored -= self._ledger.popleft()


class WorkGates:
    """One work gate per work subject, made on first use: every scan and resumption of
    this process publishing to a subject shares its bound."""

    def __init__(self, bus: Bus, max_pending: int) -> None:
        self.bus = bus
        self.max_pending = max_pending
        self.gates: dict[str, WorkGate] = {}

    def __call__(self, subject: str) -> WorkGate:
        gate = self.gates.get(subject)
        if gate is None:
            gate = self.gates[subject] = WorkGate(self.bus, subject, self.max_pending)
        return gate
