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


class Rows:
    """A model whose vector of each text is its batch row's index, on the query thread."""

    def warm_query(self, tokens: int) -> None:
        del tokens

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.arange(len(texts), dtype=np.float32).reshape(-1, 1)


async def test_what_follows_an_encoding_runs_on_the_query_thread_before_the_caller_wakes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each request's ``then`` has its own rows of a shared batch, on the query thread,
    before its caller is answered; one that raises is logged, its caller still answered."""
    batcher = QueryBatcher(Rows())  # type: ignore[arg-type]
    seen: list[tuple[str, list[float], str]] = []
    answered: list[str] = []

    def then(name: str) -> Any:
        def record(vectors: np.ndarray) -> None:
            assert name not in answered  # before its caller wakes
            seen.append((name, vectors[:, 0].tolist(), threading.current_thread().name))
            if name == "b":
                raise RuntimeError("the lane is closed")

        return record

    async def ask(name: str, texts: list[str]) -> np.ndarray:
        vectors = await batcher.embed(texts, then(name))
        answered.append(name)
        return vectors

    try:
        first = asyncio.ensure_future(ask("first", ["one"]))
        await asyncio.sleep(0)  # the first encodes alone; the next two share a batch
        a, b = ask("a", ["x", "y"]), ask("b", ["z"])
        plain = batcher.embed(["no then"])
        found = await asyncio.gather(first, a, b, plain)
    finally:
        batcher.close()
    assert [vectors[:, 0].tolist() for vectors in found[1:3]] == [[0.0, 1.0], [2.0]]
    assert sorted((name, rows) for name, rows, _ in seen) == [
        ("a", [0.0, 1.0]),
        ("b", [2.0]),
        ("first", [0.0]),
    ]
    assert {thread.split("_")[0] for _, _, thread in seen} == {"query-encoder"}
    assert "what was to follow a query's encoding failed" in caplog.text
    assert "the lane is closed" in caplog.text
