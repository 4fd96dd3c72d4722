"""The embedder's side of the vector store: every write goes through here.

Writes run on one thread, in the order they were asked for: a document's upsert
precedes the deletion of the documents it replaces, and a drop removes whatever was
queued before it. Reads and ``optimize`` (which takes seconds and releases the GIL)
run on other threads; the store is thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar
from uuid import UUID

from semantik_runtime.vectors import Point, VectorStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class VectorWriter:
    """Serialised writes to one store, with what the embedder remembers about them."""

    def __init__(self, store: VectorStore, *, optimize_after: float = 10.0) -> None:
        self.store = store
        self.optimize_after = optimize_after
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="vector-writer")
        self._written: dict[str, float] = {}  # generation → last write, until optimized
        # Generations and collections dropped while this process runs: work still
        # queued for them is discarded rather than creating an orphan generation.
        self._dropped: set[str] = set()
        self._deleted: set[str] = set()

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def was_dropped(self, name: str) -> bool:
        return name in self._dropped or name.rsplit("_g", 1)[0] in self._deleted

    async def create_generation(self, name: str, dimension: int) -> None:
        self._dropped.discard(name)
        await self._call(self.store.create_generation, name, dimension)

    async def drop_generation(self, name: str) -> None:
        self._dropped.add(name)
        self._written.pop(name, None)
        await self._call(self.store.drop_generation, name)

    async def drop_collection(self, collection_id: UUID) -> list[str]:
        """Drop every generation of a collection; return their names."""
        self._deleted.add(str(collection_id))
        prefix = f"{collection_id}_g"
        names = [n for n in await asyncio.to_thread(self.store.generations) if n.startswith(prefix)]
        for name in names:
            await self.drop_generation(name)
        return names

    async def write(
        self, name: str, dimension: int, points: Sequence[Point], replaced: Sequence[str]
    ) -> None:
        """Create the generation if missing, upsert ``points``, then delete the points of
        the ``replaced`` documents: one call on the writer thread, in that order."""
        await self._call(self._write, name, dimension, points, replaced)
        self._written[name] = time.monotonic()

    def _write(
        self, name: str, dimension: int, points: Sequence[Point], replaced: Sequence[str]
    ) -> None:
        self.store.create_generation(name, dimension)
        self.store.upsert(name, points)
        for document_id in replaced:
            self.store.delete_document(name, document_id)

    async def delete_documents(self, name: str, document_ids: Sequence[str]) -> None:
        def delete() -> None:
            if self.store.has_generation(name):
                for document_id in document_ids:
                    self.store.delete_document(name, document_id)

        await self._call(delete)

    async def set_alias(self, alias: str, name: str) -> None:
        await self._call(self.store.set_alias, alias, name)

    async def count(self, name: str) -> int:
        return await asyncio.to_thread(self.store.count, name)

    async def optimize_now(self, name: str) -> None:
        """Build the index of ``name`` now if it was written since it was last built."""
        if self._written.pop(name, None) is not None:
            await asyncio.to_thread(self.store.optimize, name)

    async def optimize_quiet(self, stop: asyncio.Event, poll: float = 1.0) -> None:
        """Optimize each generation once its writes have been quiet for ``optimize_after``
        seconds: Edge builds its HNSW index then, which bulk upserts would keep undoing."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll)
            now = time.monotonic()
            quiet = [n for n, t in self._written.items() if now - t >= self.optimize_after]
            for name in quiet:
                if now - self._written.get(name, now) < self.optimize_after:
                    continue  # written again meanwhile
                del self._written[name]
                try:
                    await asyncio.to_thread(self.store.optimize, name)
                    log.info("optimized %s", name)
                except Exception:
                    log.warning("optimizing %s failed", name, exc_info=True)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
