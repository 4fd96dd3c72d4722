"""The webhook delivery log: one entry per webhook and event, in a NATS KV bucket.

Every gateway replica writes and reads the same bucket, ``SEMANTIK_WEBHOOK_DELIVERIES``:
key ``<webhook_id>.<stream sequence of the event>``, one value per key (history 1), each
kept 14 days. An entry is written after each attempt, so it says how the latest went
(``retrying``, ``delivered``, ``failed``, ``skipped``); the attempts count is JetStream's
own count of deliveries of that event to the webhook's consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from datetime import datetime
from typing import Literal
from uuid import UUID

import nats.js.errors
from nats.js import api
from nats.js.kv import KeyValue
from pydantic import BaseModel, Field, ValidationError
from semantik_contracts.subjects import WEBHOOK_DELIVERIES_BUCKET
from semantik_runtime.bus import Bus

#: How long an entry stays in the log.
KEEP_SECONDS = 14 * 24 * 3600
#: Longest wait for the next entry of a listing before it is taken as complete.
LIST_WAIT_SECONDS = 5.0

DeliveryStatus = Literal["pending", "retrying", "delivered", "failed", "skipped"]


class Delivery(BaseModel):
    """One event's delivery to one webhook, as the latest attempt left it."""

    event_id: str = Field(description="The event's id (the body's `id`, header `webhook-id`)")
    event_type: str
    collection_id: UUID | None
    status: DeliveryStatus
    attempts: int = Field(ge=0, description="POSTs made so far (0 for a skipped event)")
    last_status_code: int | None = Field(None, description="The receiver's last HTTP status")
    last_error: str | None = Field(None, description="Why the last attempt failed, if it did")
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = Field(None, description="When a retry is due")


class DeliveryLog:
    """Writes and lists the delivery log; the bucket is created on first use."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._kv: KeyValue | None = None
        self._opening = asyncio.Lock()

    async def bucket(self) -> KeyValue:
        if self._kv is not None:
            return self._kv
        async with self._opening:
            if self._kv is None:
                self._kv = await self._open()
        return self._kv

    async def _open(self) -> KeyValue:
        return await self.bus.key_value(
            api.KeyValueConfig(
                bucket=WEBHOOK_DELIVERIES_BUCKET,
                description="Webhook deliveries: <webhook_id>.<event stream sequence>",
                history=1,
                ttl=KEEP_SECONDS,
                storage=api.StorageType.FILE,
            )
        )

    async def record(self, webhook_id: UUID, seq: int, delivery: Delivery) -> None:
        kv = await self.bucket()
        await kv.put(f"{webhook_id}.{seq}", delivery.model_dump_json().encode())

    async def deliveries(self, webhook_id: UUID, limit: int) -> list[Delivery]:
        """The webhook's latest ``limit`` entries, newest event first."""
        kv = await self.bucket()
        newest: list[tuple[int, bytes]] = []  # a min-heap of the `limit` highest sequences
        watcher = await kv.watch(f"{webhook_id}.>", ignore_deletes=True, inactive_threshold=30)
        try:
            while True:
                try:
                    entry = await watcher.updates(timeout=LIST_WAIT_SECONDS)  # type: ignore[no-untyped-call]
                except nats.errors.TimeoutError:
                    break
                if entry is None:  # every current entry was read
                    break
                seq = _sequence(entry.key)
                if seq is None or entry.value is None:
                    continue
                item = (seq, entry.value)
                if len(newest) < limit:
                    heapq.heappush(newest, item)
                elif seq > newest[0][0]:
                    heapq.heapreplace(newest, item)
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]
        found: list[Delivery] = []
        for _, value in sorted(newest, reverse=True):
            with contextlib.suppress(ValidationError):
                found.append(Delivery.model_validate_json(value))
        return found


def _sequence(key: str) -> int | None:
    tail = key.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else None
