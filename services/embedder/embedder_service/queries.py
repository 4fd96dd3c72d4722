"""Query embedding with micro-batching: requests that arrive within a few milliseconds
of each other are encoded in one call, which costs little more than encoding one."""

from __future__ import annotations

import asyncio
import logging

import numpy as np

from .model import EmbeddingModel

log = logging.getLogger(__name__)

Request = tuple[list[str], "asyncio.Future[np.ndarray]"]


class QueryBatcher:
    """Collects concurrent ``embed`` calls for ``window`` seconds, then encodes them together."""

    def __init__(
        self, model: EmbeddingModel, *, window: float = 0.003, max_texts: int = 256
    ) -> None:
        self.model = model
        self.window = window
        self.max_texts = max_texts
        self._waiting: list[Request] = []
        self._waiting_texts = 0
        self._timer: asyncio.TimerHandle | None = None
        self._batches: set[asyncio.Task[None]] = set()

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Return one normalized vector per text."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._waiting.append((texts, future))
        self._waiting_texts += len(texts)
        if self._waiting_texts >= self.max_texts:
            self._dispatch()
        elif self._timer is None:
            self._timer = loop.call_later(self.window, self._dispatch)
        return await future

    def _dispatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting, self._waiting_texts = self._waiting, [], 0
        if batch:
            task = asyncio.create_task(self._encode(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    async def _encode(self, batch: list[Request]) -> None:
        texts = [text for request, _ in batch for text in request]
        try:
            vectors = await asyncio.to_thread(self.model.encode, texts)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for request, future in batch:
            # A caller that gave up (timed out) has a cancelled future: skip it.
            if not future.done():
                future.set_result(vectors[start : start + len(request)])
            start += len(request)
