"""Who follows each synced source: a lease in a NATS KV bucket.

A lease is the key ``source.<source_id>`` holding its owner's name. It is taken with
``create`` (only if no one holds it), renewed with ``update`` on the revision the owner
last wrote (so two replicas never both believe they hold it), and given back with a
``delete`` on that revision. The bucket's ``ttl`` ends a lease its owner stopped renewing
(a replica that died): another replica takes it at its next claim.
"""

from __future__ import annotations

import contextlib
import logging
from uuid import UUID

import nats.js.errors
from nats.js import api
from nats.js.kv import KeyValue
from semantik_contracts.sync import SYNC_LEASES_BUCKET
from semantik_runtime.bus import Bus

log = logging.getLogger(__name__)

#: The bucket of sync leases.
LEASES_BUCKET = SYNC_LEASES_BUCKET


class Leases:
    """The leases one replica (``owner``) holds, by source."""

    def __init__(self, bus: Bus, owner: str, ttl_seconds: float) -> None:
        self.bus = bus
        self.owner = owner
        self.ttl = ttl_seconds
        self.held: dict[UUID, int] = {}  # source id -> revision last written
        self._kv: KeyValue | None = None

    async def bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self.bus.key_value(
                api.KeyValueConfig(
                    bucket=LEASES_BUCKET,
                    description="Which ingest replica follows each synced source",
                    ttl=self.ttl,
                    history=1,
                )
            )
        return self._kv

    @staticmethod
    def key(source_id: UUID) -> str:
        return f"source.{source_id}"

    async def hold(self, source_id: UUID) -> bool:
        """Renew the lease if this replica holds it, else try to take it; whether it
        holds it now."""
        kv = await self.bucket()
        value = self.owner.encode()
        revision = self.held.get(source_id)
        try:
            if revision is None:
                self.held[source_id] = await kv.create(self.key(source_id), value)
            else:
                self.held[source_id] = await kv.update(self.key(source_id), value, last=revision)
            return True
        except nats.js.errors.KeyWrongLastSequenceError:
            if revision is not None:
                log.warning("lease of source %s lost to another replica", source_id)
            self.held.pop(source_id, None)
            return False

    async def release(self, source_id: UUID) -> None:
        """Give the lease back at once, so another replica need not wait for its ttl."""
        revision = self.held.pop(source_id, None)
        if revision is None:
            return
        kv = await self.bucket()
        with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):  # taken already
            await kv.delete(self.key(source_id), last=revision)

    async def release_all(self) -> None:
        for source_id in list(self.held):
            try:
                await self.release(source_id)
            except Exception as exc:  # the bus is closing: the ttl ends them
                log.info("lease of source %s left to expire: %s", source_id, exc)
                self.held.pop(source_id, None)
