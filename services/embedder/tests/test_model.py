"""The installed model: loading by name, encoding, and the CUDA out-of-memory fallback."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from embedder_service.model import EmbeddingModel, choose_device, load_model
from semantik_contracts import ErrorCode
from semantik_contracts.search import DEFAULT_MODEL
from semantik_runtime.errors import CommandError


@pytest.mark.integration
def test_the_default_model_encodes_normalized_float32_rows(model: EmbeddingModel) -> None:
    assert (model.name, model.dimension, model.max_seq_length) == (DEFAULT_MODEL.name, 384, 256)
    vectors = model.encode(["a galaxy far away", "bread dough", "a distant galaxy"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Meaning, not noise: the two galaxy sentences are closer than either is to bread.
    assert vectors[0] @ vectors[2] > vectors[0] @ vectors[1]
    assert model.encode([]).shape == (0, 384)


@pytest.mark.unit
def test_a_model_that_is_not_installed_is_a_typed_error() -> None:
    with pytest.raises(CommandError) as error:
        load_model("acme/not-installed")
    assert error.value.code == ErrorCode.INVALID
    assert DEFAULT_MODEL.name in error.value.message


@pytest.mark.unit
def test_the_device_can_be_chosen_or_detected() -> None:
    assert choose_device("cpu") == "cpu"
    assert choose_device(None) in ("cuda", "mps", "cpu")
    assert choose_device("auto") == choose_device(None)
    assert (choose_device(None) == "cuda") == torch.cuda.is_available()


@pytest.mark.integration
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_cuda_out_of_memory_halves_the_batch_and_retries() -> None:
    model = load_model()
    assert model.device == "cuda"
    texts = ["word " * 300] * 2048
    expected = model.encode(texts[:4])
    torch.cuda.empty_cache()
    # Leave this process too little GPU memory for a batch of 2048 long texts.
    torch.cuda.set_per_process_memory_fraction(0.004)
    try:
        model.batch_size = 2048
        vectors = model.encode(texts)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    assert model.batch_size < 2048
    assert vectors.shape == (2048, 384)
    assert np.allclose(vectors[:4], expected, atol=2e-2)
