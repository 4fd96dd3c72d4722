"""Query embedding with natural batching: a query is encoded at once when the model is
idle; queries that arrive while it encodes wait for that call to end and are then
encoded together in one call, which costs little more than encoding one. No timer
holds a lone query back (a fixed window added its length to every search).

Queries are encoded on a thread of their own that lets torch use one intra-op thread
(``torch.set_num_threads`` holds for the thread that calls it). A query is a few dozen
tokens: a second thread gains little, and on a busy machine torch's threads waiting
for each other cost far more. Measured on 2 loaded cores (load average 12), one
SciFact query through all-MiniLM-L6-v2: p50 17 ms with one thread, 475 ms with two.
Not even an idle machine gains from a second thread here: torch's second thread helps
only on a process's main thread (idle, 10.9 against 15.9 ms), and on any other thread,
such as this one, two took 17.9-20.6 ms against 15.1 with one.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .model import WARM_QUERY_TOKENS, EmbeddingModel, encoder_thread

log = logging.getLogger(__name__)

Request = tuple[list[str], "asyncio.Future[np.ndarray]"]

#: Intra-op threads torch may use to encode a query.
QUERY_THREADS = 1


def query_thread() -> ThreadPoolExecutor:
    """The one thread that encodes queries, with ``QUERY_THREADS`` threads for torch."""
    return encoder_thread("query-encoder", QUERY_THREADS)


class QueryBatcher:
    """Encodes ``embed`` calls one batch at a time; callers that arrive meanwhile share
    the next batch (at most ``max_texts`` texts a call)."""

    def __init__(self, model: EmbeddingModel, *, max_texts: int = 256) -> None:
        self.model = model
        self.max_texts = max_texts
        self._waiting: list[Request] = []
        self._running: asyncio.Task[None] | None = None
        self._thread = query_thread()
        self._warm(2)

    def _warm(self, tokens: int) -> None:
        """Encode a query of each length from ``tokens`` to ``WARM_QUERY_TOKENS`` on the
        query thread, one after another (``EmbeddingModel.warm_query``): the first query
        of each length (and, for int8 queries, the thread's own ONNX Runtime session)
        is paid at start, not by a search, and a query asked for meanwhile waits behind
        one of them at most."""
        if tokens > WARM_QUERY_TOKENS:
            return
        try:
            done = self._thread.submit(self.model.warm_query, tokens)
        except RuntimeError:  # closed
            return
        done.add_done_callback(lambda _: self._warm(tokens + 1))

    def close(self) -> None:
        """Let the encoding thread go once it has finished what it is doing."""
        self._thread.shutdown(wait=False, cancel_futures=True)

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Return one normalized vector per text."""
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._waiting.append((texts, future))
        if self._running is None:
            self._running = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch: list[Request] = []
                size = 0
                while self._waiting and (
                    not batch or size + len(self._waiting[0][0]) <= self.max_texts
                ):
                    request = self._waiting.pop(0)
                    batch.append(request)
                    size += len(request[0])
                await self._encode(batch)
        finally:
            self._running = None

    async def _encode(self, batch: list[Request]) -> None:
        # A caller that gave up (timed out) has a cancelled future: nothing to encode.
        batch = [(texts, future) for texts, future in batch if not future.done()]
        if not batch:
            return
        texts = [text for request, _ in batch for text in request]
        try:
            loop = asyncio.get_running_loop()
            vectors = await loop.run_in_executor(self._thread, self.model.encode_queries, texts)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for request, future in batch:
            if not future.done():
                future.set_result(vectors[start : start + len(request)])
            start += len(request)
