"""Rate limits on sign-in and search (SPEC §7): 429 with ``Retry-After``.

A token bucket per client: ``per_minute`` requests a minute on average, bursts of up to
``burst``. Sign-in is limited per client address (it is what a password guesser
cannot change cheaply); search per user.

Every gateway replica draws on the same buckets (``SharedRateLimiter``): they are kept
in the NATS KV bucket ``SEMANTIK_RATE_LIMITS``, one key per limit and client, updated
at the revision read (a compare-and-set), so two replicas admitting at once cannot both
spend one token. A guesser spreading attempts over replicas behind a load balancer gets
no more than from one. While the gateway has no bus, or the bucket cannot be reached,
each replica falls back to buckets of its own (``RateLimiter``): a limit that fails
open entirely would be no limit during an outage of NATS.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import nats.js.errors
from nats.js import api
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from semantik_contracts.subjects import RATE_LIMITS_BUCKET
from semantik_runtime.bus import Bus

log = logging.getLogger(__name__)

#: Buckets kept before idle (full) ones are forgotten.
MAX_TRACKED = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float

    def take(self, now: float, rate: float, burst: float) -> int:
        """Refill to ``now``, then spend a token: 0 if there was one, else the whole
        seconds until there will be (nothing spent)."""
        self.tokens = min(burst, self.tokens + max(0.0, now - self.updated) * rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0
        return max(1, math.ceil((1.0 - self.tokens) / rate))


class RateLimiter:
    """Admits a request, or says how many seconds until one would be admitted."""

    def __init__(
        self,
        per_minute: int,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(per_minute // 6, 1))
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()  # sign-in routes run in the thread pool

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def retry_after(self, key: str) -> int:
        """0 if the request may go ahead (and it is counted), else whole seconds to wait."""
        if not self.enabled:
            return 0
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_TRACKED:
                    self._forget_idle(now)
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            return bucket.take(now, self.rate, self.burst)

    async def admit(self, key: str) -> int:
        """``retry_after``, as ``SharedRateLimiter.admit`` is called."""
        return self.retry_after(key)

    def _forget_idle(self, now: float) -> None:
        refill = self.burst / self.rate
        idle = [k for k, b in self._buckets.items() if now - b.updated >= refill]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) >= MAX_TRACKED:  # all busy: forget the oldest half
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k].updated)
            for key in oldest[: len(oldest) // 2]:
                del self._buckets[key]


#: How long a client's bucket is kept after its last request: far longer than any
#: bucket takes to refill (``burst / rate``), so a key that expired was full anyway.
IDLE_SECONDS = 24 * 3600
#: Compare-and-set attempts on one key before this replica's own bucket decides.
#: Requests of one replica take turns per key (``STRIPES``), so only replicas race.
CAS_ATTEMPTS = 10
#: Locks a replica's requests take turns on, by key: one client's requests to this
#: replica (20 users signing in from one address at once) never race each other on
#: its KV key, which would spend every compare-and-set attempt of some of them.
STRIPES = 64


class SharedRateLimiter:
    """A ``RateLimiter`` whose buckets every gateway replica shares through NATS KV.

    ``bus`` gives the gateway's bus, or None while it has none (then, and when the bucket
    fails, ``local`` decides). Keys are ``<name>.<digest of the client>``: a client
    address or user id never has to fit KV's key alphabet, and is not stored readable.
    Times are the wall clock's, as replicas on several hosts compare them."""

    def __init__(
        self,
        name: str,
        local: RateLimiter,
        bus: Callable[[], Bus | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.local = local
        self.bus = bus
        self.clock = clock
        self._kv: KeyValue | None = None
        self._kv_of: Bus | None = None
        self._opening = asyncio.Lock()
        self._turns = [asyncio.Lock() for _ in range(STRIPES)]
        self._failing = False

    @property
    def enabled(self) -> bool:
        return self.local.enabled

    async def admit(self, key: str) -> int:
        """0 if the request may go ahead (its token is spent), else whole seconds to wait."""
        if not self.enabled:
            return 0
        bus = self.bus()
        if bus is None:
            return self.local.retry_after(key)
        stored = self._key(key)
        try:
            async with self._turns[int(stored[-8:], 16) % STRIPES]:
                wait = await self._admit(await self._bucket(bus), stored)
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            if not self._failing:
                log.warning("rate limit %s: shared buckets unreachable (%s)", self.name, exc)
            self._failing = True
            return self.local.retry_after(key)
        self._failing = False
        return self.local.retry_after(key) if wait is None else wait

    def _key(self, client: str) -> str:
        return f"{self.name}.{hashlib.blake2b(client.encode(), digest_size=16).hexdigest()}"

    async def _admit(self, kv: KeyValue, key: str) -> int | None:
        """The shared bucket's answer; None when replicas kept racing on it."""
        for _ in range(CAS_ATTEMPTS):
            now = self.clock()
            try:
                entry = await kv.get(key)
                bucket, revision = _parse(entry.value, now, self.local.burst), entry.revision
            except KeyNotFoundError:  # new, or idle long enough to have expired: full
                bucket, revision = _Bucket(self.local.burst, now), None
            wait = bucket.take(now, self.local.rate, self.local.burst)
            if wait:
                return wait  # a refusal spends nothing: nothing to write
            value = f"{bucket.tokens!r} {bucket.updated!r}".encode()
            try:
                if revision is None:
                    await kv.create(key, value)
                else:
                    await kv.update(key, value, last=revision)
                return 0
            except KeyWrongLastSequenceError:
                continue  # another replica spent from it meanwhile: read it again
        return None

    async def _bucket(self, bus: Bus) -> KeyValue:
        if self._kv is not None and self._kv_of is bus:
            return self._kv
        async with self._opening:
            if self._kv is None or self._kv_of is not bus:
                self._kv, self._kv_of = await _open_bucket(bus), bus
        return self._kv


def _parse(value: bytes | None, now: float, burst: float) -> _Bucket:
    """A stored bucket; one that cannot be read (written by a newer version, say) is
    full rather than an error on every request of its client."""
    try:
        tokens, updated = (float(part) for part in (value or b"").split())
    except ValueError:
        return _Bucket(burst, now)
    return _Bucket(min(tokens, burst), min(updated, now))


async def _open_bucket(bus: Bus) -> KeyValue:
    return await bus.key_value(
        api.KeyValueConfig(
            bucket=RATE_LIMITS_BUCKET,
            description="Rate limits' token buckets: <limit>.<client digest>",
            history=1,
            ttl=IDLE_SECONDS,
            storage=api.StorageType.FILE,
        )
    )


#: What the gateway's routes ask (``api.deps``): either kind answers ``admit``.
Limiter = RateLimiter | SharedRateLimiter
