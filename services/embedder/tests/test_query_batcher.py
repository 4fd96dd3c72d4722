"""The query thread's warm-up: a query of each length up to ``WARM_QUERY_TOKENS`` is
encoded at start on the thread that encodes queries, one at a time, so that a real
query waits behind one of them at most; closing stops it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import pytest
from embedder_service.model import WARM_QUERY_TOKENS, EmbeddingModel
from embedder_service.query_batcher import QueryBatcher

pytestmark = pytest.mark.unit


class Spy:
    """A model that records what it encodes, and on which thread."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause
        self.calls: list[tuple[str, int | list[str], str]] = []

    def warm_query(self, tokens: int) -> None:
        time.sleep(self.pause)
        self.calls.append(("warm", tokens, threading.current_thread().name))

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.calls.append(("query", texts, threading.current_thread().name))
        return np.ones((len(texts), 3), dtype=np.float32)


def until(check: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_each_length_is_encoded_once_at_start_on_the_query_thread() -> None:
    spy = Spy()
    batcher = QueryBatcher(spy)  # type: ignore[arg-type]
    try:
        until(lambda: len(spy.calls) == WARM_QUERY_TOKENS - 1)
        assert [tokens for _, tokens, _ in spy.calls] == list(range(2, WARM_QUERY_TOKENS + 1))
        assert {thread.split("_")[0] for _, _, thread in spy.calls} == {"query-encoder"}
    finally:
        batcher.close()


async def test_a_query_waits_behind_one_warm_up_at_most() -> None:
    spy = Spy(pause=0.005)
    batcher = QueryBatcher(spy)  # type: ignore[arg-type]
    try:
        await asyncio.sleep(0.02)
        vectors = await batcher.embed(["what is dark matter?"])
        assert vectors.shape == (1, 3)
        warmed = [tokens for kind, tokens, _ in spy.calls if kind == "warm"]
        # The query went in between the warm-ups, not after all of them.
        assert len(warmed) < WARM_QUERY_TOKENS - 1
        await asyncio.to_thread(until, lambda: len(spy.calls) == WARM_QUERY_TOKENS)
        assert [kind for kind, _, _ in spy.calls].count("query") == 1
    finally:
        batcher.close()


def test_closing_stops_the_warm_up() -> None:
    spy = Spy(pause=0.01)
    batcher = QueryBatcher(spy)  # type: ignore[arg-type]
    until(lambda: len(spy.calls) >= 2)
    batcher.close()
    time.sleep(0.1)
    stopped = len(spy.calls)
    time.sleep(0.1)
    assert stopped == len(spy.calls) < WARM_QUERY_TOKENS - 1


def test_a_real_models_warm_query_has_about_the_length_asked_for(model: EmbeddingModel) -> None:
    seen: list[int] = []
    # The query pass tokenizes through the tokenizer's core where it can, else preprocess.
    direct = model._query_tokens
    features = direct if direct is not None else model._features

    def counted(texts: list[str]) -> Any:
        found = features(texts)
        seen.append(int(found["input_ids"].shape[1]))
        return found

    if direct is not None:
        model._query_tokens = counted  # type: ignore[assignment]
    else:
        model._features = counted  # type: ignore[method-assign]
    try:
        for tokens in (2, 3, 17, WARM_QUERY_TOKENS):
            model.warm_query(tokens)
    finally:
        if direct is not None:
            model._query_tokens = direct
        else:
            del model._features
    if model._query_onnx is None:  # ONNX Runtime tokenizes on its own
        assert seen == [2, 3, 17, WARM_QUERY_TOKENS]
