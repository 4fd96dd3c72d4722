"""Rate limits on sign-in and search (SPEC §7): 429 with ``Retry-After``.

A token bucket per client: ``per_minute`` requests a minute on average, bursts of up to
``burst``. Sign-in is limited per client address (it is what a password guesser
cannot change cheaply); search per user. The buckets live in this process: with
several gateway replicas each enforces its own share.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Buckets kept before idle (full) ones are forgotten.
MAX_TRACKED = 10_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


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
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))

    def _forget_idle(self, now: float) -> None:
        refill = self.burst / self.rate
        idle = [k for k, b in self._buckets.items() if now - b.updated >= refill]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) >= MAX_TRACKED:  # all busy: forget the oldest half
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k].updated)
            for key in oldest[: len(oldest) // 2]:
                del self._buckets[key]
