"""Leases in a NATS KV bucket: which ingest replica holds a thing (a synced source, a
scan), so that exactly one replica does its work.

A lease is the key ``<prefix>.<id>`` holding its owner's name. It is taken with
``create`` (only if no one holds it), renewed with ``update`` on the revision the owner
last wrote (so two replicas never both believe they hold it), and given back with a
``delete`` on that revision. The bucket's ``ttl`` ends a lease its owner stopped renewing
(a replica that died): another replica takes it at its next claim.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from uuid import UUID, uuid4

import nats.js.errors
from nats.js import api
from nats.js.kv import KeyValue
from semantik_runtime.bus import Bus

log = logging.getLogger(__name__)


def replica_name(stable: str | None = None) -> str:
    """The name this replica holds leases under.

    ``stable`` (``SEMANTIK_REPLICA_NAME``: the pod's name on Kubernetes, the supervisor's
    slot under ``semantik run``) names the replica across restarts, so a process that
    died and was started again takes its own leases back at once instead of waiting for
    their ttl. Without it the name is this process's own (host, process and a random
    part: two replicas in one process, as tests run them, are told apart too), and a
    restarted process waits for the ttl like any other replica."""
    if stable:
        return stable
    return f"{socket.gethostname()}-{os.getpid()}-{uuid4().hex[:8]}"


class Leases:
    """The leases one replica (``owner``) holds in ``bucket``, by id."""

    def __init__(
        self,
        bus: Bus,
        owner: str,
        ttl_seconds: float,
        *,
        bucket: str,
        prefix: str,
        description: str,
    ) -> None:
        self.bus = bus
        self.owner = owner
        self.ttl = ttl_seconds
        self.bucket_name = bucket
        self.prefix = prefix
        self.description = description
        self.held: dict[UUID, int] = {}  # id -> revision last written
        self._kv: KeyValue | None = None

    async def bucket(self) -> KeyValue:
        if self._kv is None:
            kv = await self.bus.key_value(
                api.KeyValueConfig(
                    bucket=self.bucket_name,
                    description=self.description,
                    ttl=self.ttl,
                    history=1,
                )
            )
            # A bucket made before keeps its ttl (a changed setting does not alter it):
            # the leases are renewed by the ttl that ends them, or they would lapse held.
            ttl = (await kv.status()).ttl
            if ttl and ttl != self.ttl:
                log.warning(
                    "bucket %s ends leases after %g s, not %g s: renewed by that",
                    self.bucket_name,
                    ttl,
                    self.ttl,
                )
                self.ttl = ttl
            self._kv = kv
        return self._kv

    def key(self, held_id: UUID) -> str:
        return f"{self.prefix}.{held_id}"

    async def hold(self, held_id: UUID) -> bool:
        """Renew the lease if this replica holds it, else try to take it; whether it
        holds it now."""
        kv = await self.bucket()
        value = self.owner.encode()
        revision = self.held.get(held_id)
        try:
            if revision is None:
                self.held[held_id] = await kv.create(self.key(held_id), value)
            else:
                self.held[held_id] = await kv.update(self.key(held_id), value, last=revision)
            return True
        except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyNotFoundError):
            # Held by another (or, for ``create``, expiring this very moment: next time).
            if revision is not None:
                log.warning("lease %s lost to another replica", self.key(held_id))
                self.held.pop(held_id, None)
                return False
        return await self._reclaim(kv, held_id, value)

    async def _reclaim(self, kv: KeyValue, held_id: UUID, value: bytes) -> bool:
        """Take back a lease held under this replica's name by an earlier run of it (it
        died holding it): one run of a replica name is alive at a time, so it is this
        one's. A lease this run took (another of its tasks, a moment ago) is not."""
        try:
            entry = await kv.get(self.key(held_id))
        except nats.js.errors.KeyNotFoundError:
            return False  # lapsed or given back this moment: the next claim creates it
        if entry.value != value or held_id in self.held or entry.revision is None:
            return False
        try:
            self.held[held_id] = await kv.update(self.key(held_id), value, last=entry.revision)
        except (nats.js.errors.KeyWrongLastSequenceError, nats.js.errors.KeyNotFoundError):
            return False
        log.info("lease %s taken back from this replica's earlier run", self.key(held_id))
        return True

    async def release(self, held_id: UUID) -> None:
        """Give the lease back at once, so another replica need not wait for its ttl."""
        revision = self.held.pop(held_id, None)
        if revision is None:
            return
        kv = await self.bucket()
        with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):  # taken already
            await kv.delete(self.key(held_id), last=revision)

    async def release_all(self) -> None:
        for held_id in list(self.held):
            try:
                await self.release(held_id)
            except Exception as exc:  # the bus is closing: the ttl ends them
                log.info("lease %s left to expire: %s", self.key(held_id), exc)
                self.held.pop(held_id, None)
