"""Lifetime guard for one Qdrant Edge shard shared by several threads.

The engine itself accepts concurrent reads and writes on one shard (verified with
parallel upserts, queries and ``optimize()``), so operations are not serialised.
What it does not do is wait for them when the shard is closed: an operation racing
``close()`` fails with "Shard is not initialized", and deleting the directory under a
running operation would be worse. The slot is therefore a small shared/exclusive lock:
operations share it, retiring (close before drop) waits for them and bars new ones.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import qdrant_edge as qe

from .port import GenerationNotFoundError

__all__ = ["ShardSlot"]


class ShardSlot:
    """An open shard plus the count of operations using it."""

    def __init__(self, shard: qe.EdgeShard) -> None:
        self._shard = shard
        self._cond = threading.Condition()
        self._users = 0
        self._retired = False

    @contextmanager
    def use_if_open(self) -> Iterator[qe.EdgeShard | None]:
        """Yield the shard for one operation, or ``None`` if it has been retired."""
        with self._cond:
            if self._retired:
                shard = None
            else:
                shard = self._shard
                self._users += 1
        try:
            yield shard
        finally:
            if shard is not None:
                with self._cond:
                    self._users -= 1
                    if not self._users:
                        self._cond.notify_all()

    @contextmanager
    def use(self, name: str) -> Iterator[qe.EdgeShard]:
        """Yield the shard for one operation; raise if generation ``name`` was dropped."""
        with self.use_if_open() as shard:
            if shard is None:
                raise GenerationNotFoundError(name)
            yield shard

    def retire(self) -> None:
        """Bar new operations, wait for running ones, then close the shard."""
        with self._cond:
            if self._retired:
                return
            self._retired = True
            self._cond.wait_for(lambda: not self._users)
        # close() flushes the segments and releases the WAL lock for the next opener.
        self._shard.close()
