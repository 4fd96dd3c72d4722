"""A query's features straight from the tokenizer's core: the same inputs as
sentence-transformers' ``preprocess``, or not used at all."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from embedder_service import model as model_module
from embedder_service.model import EmbeddingModel
from embedder_service.query_tokens import CHECKS, QueryTokens, query_tokens

KEYS = ["input_ids", "token_type_ids", "attention_mask"]
TEXTS = [
    ["q"],
    ["do mutations in the tumour suppressor gene increase the risk of cancer?"],
    ["why do proteins misfold in the cold? " * 60],  # past the 256-token cut
    ["short", "a middling query about galaxies", "  spaced\tout\n", "ÜBER naïve — 東京 🚀"],
    [""],
]


@pytest.mark.unit
def test_the_direct_features_are_preprocess_s_own(model: EmbeddingModel) -> None:
    direct = query_tokens(model._encoder, KEYS, model._features)
    assert isinstance(direct, QueryTokens)
    for texts in TEXTS:
        got, want = direct(texts), model._features(texts)
        assert set(got) == set(KEYS)
        for key in KEYS:
            assert torch.equal(got[key], want[key]), (texts, key)
    assert direct(TEXTS[2])["input_ids"].shape == (1, model.max_seq_length)


@pytest.mark.unit
def test_the_traced_query_pass_tokenizes_directly_with_the_same_vectors(
    model: EmbeddingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_module, "native_bfloat16", lambda: False)
    traced = EmbeddingModel(model.name, model._encoder, model.device, model.batch_size)
    assert traced.trace_queries()
    assert traced._query_tokens is not None
    for texts in TEXTS[:4]:
        np.testing.assert_allclose(
            traced.encode_queries(texts), model.encode(texts), rtol=0, atol=1e-5
        )


@pytest.mark.unit
def test_a_tokenizer_that_answers_otherwise_is_not_used(model: EmbeddingModel) -> None:
    calls: list[list[str]] = []

    def shifted(texts: Any) -> dict[str, torch.Tensor]:  # a preprocess that differs
        calls.append(list(texts))
        features = model._features(texts)
        return {**features, "input_ids": features["input_ids"] + (len(texts) > 1)}

    assert query_tokens(model._encoder, KEYS, shifted) is None
    assert calls[:2] == CHECKS[:2]  # it checked until the batch told them apart


@pytest.mark.unit
def test_without_a_tokenizers_core_or_with_unknown_inputs_there_is_none(
    model: EmbeddingModel,
) -> None:
    slow = [SimpleNamespace(tokenizer=SimpleNamespace())]  # no backend_tokenizer
    assert query_tokens(slow, KEYS, model._features) is None  # type: ignore[arg-type]
    assert query_tokens(model._encoder, [*KEYS, "pixel_values"], model._features) is None
