"""The installed model: loading by name, encoding, and the CUDA out-of-memory fallback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from embedder_service import model as model_module
from embedder_service import precision as precision_module
from embedder_service.model import EmbeddingModel, choose_device, load_model
from semantik_contracts import ErrorCode
from semantik_contracts.search import DEFAULT_MODEL
from semantik_runtime.errors import CommandError
from semantik_runtime.models import installed_models

from tests.models import TINY_DIMENSION, TINY_MAX_SEQ, TINY_MODEL


@pytest.mark.integration
def test_the_default_model_encodes_normalized_float32_rows(model: EmbeddingModel) -> None:
    assert (model.name, model.dimension, model.max_seq_length) == (DEFAULT_MODEL.name, 384, 256)
    vectors = model.encode(["a galaxy far away", "bread dough", "a distant galaxy"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Meaning, not noise: the two galaxy sentences are closer than either is to bread.
    assert vectors[0] @ vectors[2] > vectors[0] @ vectors[1]
    assert model.encode([]).shape == (0, 384)


def assert_query_vectors(model: EmbeddingModel, queries: list[str]) -> None:
    """``encode_queries`` gives ``encode``'s vectors: to float32's rounding, or as close
    as a bfloat16 query pass is allowed to be."""
    got, want = model.encode_queries(queries), model.encode(queries)
    assert got.shape == want.shape and got.dtype == np.float32
    if model.query_dtype == "bfloat16":
        assert np.sum(got * want, axis=1).min() >= model_module.BFLOAT16_MIN_COSINE
    else:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)


@pytest.fixture
def float32_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPU without bfloat16 units: traces stay in float32."""
    monkeypatch.setattr(model_module, "native_bfloat16", lambda: False)


@pytest.fixture
def bfloat16_units(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPU with bfloat16 units, whatever this one has: without them torch still
    multiplies bfloat16 correctly, only slower, and which pass wins is told anyway."""
    monkeypatch.setattr(model_module, "native_bfloat16", lambda: True)


def packs_bfloat16() -> bool:
    """Whether oneDNN lays bfloat16 weights out on this CPU (AVX512BW/VL/DQ or
    AVX-NE-CONVERT). Elsewhere (an AVX2-only AMD EPYC, say) both packed layouts fail
    and the unpacked one is the bfloat16 trace that is raced."""
    weight = torch.zeros(8, 8, dtype=torch.bfloat16)
    try:
        torch.ops.mkldnn._reorder_linear_weight(weight, precision_module.PACKED_ROWS)
    except RuntimeError:
        return False
    return True


PACKED_LAYOUTS = ("packed weights, GELU fused", "packed weights")


def fresh(model: EmbeddingModel) -> EmbeddingModel:
    """The loaded model's encoder, not yet traced."""
    return EmbeddingModel(model.name, model._encoder, model.device, model.batch_size)


@pytest.mark.integration
def test_queries_straight_through_the_model_get_encodes_vectors(model: EmbeddingModel) -> None:
    queries = ["a galaxy far away", "what makes sourdough rise?", "ünïcödé — 東京 🚀"]
    for query in queries:  # one at a time, as a lone search asks
        assert_query_vectors(model, [query])
    assert_query_vectors(model, queries)  # a micro-batch: padded to the longest
    assert model.encode_queries([]).shape == (0, 384)


LONG = "why do proteins misfold in the cold? " * 60  # past the 256-token cut


@pytest.mark.unit
@pytest.mark.usefixtures("float32_only")
def test_queries_of_any_length_go_through_the_frozen_trace(
    model: EmbeddingModel, caplog: pytest.LogCaptureFixture
) -> None:
    traced = fresh(model)
    caplog.set_level("WARNING")
    assert traced.trace_queries() and traced.query_dtype == "float32"
    # The tracer reads every attribute of the modules, deprecated ones too: the notes
    # they log are about nothing an embedder does, and are not said at each start.
    assert not [r for r in caplog.records if "deprecated" in r.getMessage()]
    for texts in (["q"], [LONG], [LONG, "short", "a middling query about galaxies"]):
        np.testing.assert_allclose(
            traced.encode_queries(texts), model.encode(texts), rtol=0, atol=1e-5
        )


@pytest.mark.unit
@pytest.mark.usefixtures("bfloat16_units")
def test_a_bfloat16_query_pass_is_kept_where_it_is_faster_and_close(
    model: EmbeddingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Which pass wins the race on a busy machine is chance: here it is told.
    monkeypatch.setattr(model_module, "_race", lambda *_: {"float32": 1.0, "bfloat16": 0.6})
    half = fresh(model)
    assert half.trace_queries() and half.query_dtype == "bfloat16"
    # Its weights were laid out for oneDNN once, in the trace, and GELU is in the product;
    # where oneDNN cannot lay them out, the trace multiplies unpacked bfloat16 weights.
    graph = str(half._traced.graph)
    packed = packs_bfloat16()
    assert ("mkldnn::_linear_pointwise" in graph) is packed
    assert ("aten::gelu" in graph) is not packed
    for texts in (["q"], [LONG], [LONG, "short", "a middling query about galaxies"]):
        assert_query_vectors(half, texts)
    # The documents' pass keeps its float32 weights: the model's own layers are back.
    assert not any(
        isinstance(m, precision_module._BFloat16Linear | precision_module._PackedBFloat16Linear)
        for m in model._encoder.modules()
    )
    assert all(p.dtype == torch.float32 for p in model._encoder.parameters())
    np.testing.assert_allclose(model.encode(["q"]), fresh(model).encode(["q"]), rtol=0, atol=0)


@pytest.mark.unit
@pytest.mark.usefixtures("bfloat16_units")
@pytest.mark.parametrize("missing", ["oneDNN's packed weights", "the GELU rewrite"])
def test_a_layout_that_fails_leaves_the_next_bfloat16_trace(
    model: EmbeddingModel,
    missing: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    packs = packs_bfloat16()  # where oneDNN refuses, both packed layouts fail anyway
    caplog.set_level("INFO", logger=model_module.__name__)
    monkeypatch.setattr(model_module, "_race", lambda *_: {"float32": 1.0, "bfloat16": 0.6})

    def fails(*args: Any) -> Any:
        raise RuntimeError(f"no {missing} in this torch")

    if missing == "the GELU rewrite":
        monkeypatch.setattr(model_module, "fuse_gelu", fails)
        packed, kept = packs, "packed weights" if packs else "unpacked weights"
    else:
        monkeypatch.setattr(precision_module, "_packed_linear", fails)
        packed, kept = False, "unpacked weights"
    half = fresh(model)
    assert half.trace_queries() and half.query_dtype == "bfloat16"
    graph = str(half._traced.graph)
    assert ("mkldnn::_linear_pointwise" in graph) is packed and "aten::gelu" in graph
    reasons = [f"no {missing} in this torch"] + ([] if packs else ["mkldnn_reorder"])
    assert any(f"packed weights, GELU fused: {why}" in caplog.text for why in reasons)
    assert caplog.text.rstrip().endswith(f"{kept})")
    assert_query_vectors(half, ["q", LONG])


@pytest.mark.unit
@pytest.mark.usefixtures("bfloat16_units")
@pytest.mark.parametrize("why", ["slower", "too far", "unfrozen"])
def test_the_float32_trace_stays_unless_bfloat16_wins(
    model: EmbeddingModel,
    why: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger=model_module.__name__)
    timings = {"float32": 1.0, "bfloat16": 0.95 if why == "slower" else 0.6}
    monkeypatch.setattr(model_module, "_race", lambda *_: timings)
    if why == "too far":  # a cosine of 1 cannot be had in bfloat16
        monkeypatch.setattr(model_module, "BFLOAT16_MIN_COSINE", 1.0 + 1e-6)
    if why == "unfrozen":  # a large model: the bfloat16 trace holds its own weights
        monkeypatch.setattr(model_module, "FREEZE_MAX_BYTES", 0)
    traced = fresh(model)
    assert traced.trace_queries()
    expected = "bfloat16" if why == "unfrozen" else "float32"
    assert traced.query_dtype == expected
    if why == "too far":  # every layout tried, each too far (or, unpacked, not made here)
        outcome = "cosine" if packs_bfloat16() else "mkldnn_reorder_linear_weight"
        assert f"bfloat16 failed: {PACKED_LAYOUTS[0]}: {outcome}" in caplog.text
        assert f"; {PACKED_LAYOUTS[1]}: {outcome}" in caplog.text
        assert "; unpacked weights: cosine" in caplog.text
    if why == "slower":
        assert "keep the float32 trace (float32 1000.0 ms, bfloat16 950.0 ms)" in caplog.text
    assert_query_vectors(traced, ["a galaxy far away", LONG])


@pytest.mark.unit
def test_the_race_times_each_pass_and_leaves_the_model_s_own(model: EmbeddingModel) -> None:
    installed, threads = model._traced, torch.get_num_threads()
    calls: list[str] = []

    def counting(name: str) -> Any:
        def encode(*tensors: torch.Tensor) -> torch.Tensor:
            calls.append(name)
            return installed(*tensors)

        return encode

    timings = model_module._race(model, {"a": counting("a"), "b": counting("b")})
    assert set(timings) == {"a", "b"} and all(t > 0 for t in timings.values())
    assert calls == ["a", "b"] * (model_module._RACE_ROUNDS + 2)  # in turns
    assert model._traced is installed
    assert torch.get_num_threads() == threads


@pytest.mark.unit
@pytest.mark.usefixtures("float32_only")
def test_a_large_model_s_trace_shares_its_weights_unfrozen(
    model: EmbeddingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_module, "FREEZE_MAX_BYTES", 0)
    unfrozen = fresh(model)
    assert unfrozen.trace_queries()
    assert isinstance(unfrozen._traced, torch.jit.ScriptModule)
    weights = {p.data_ptr() for p in model._encoder.parameters()}
    assert weights <= {p.data_ptr() for p in unfrozen._traced.parameters()}
    queries = ["a galaxy far away", "why do proteins misfold in the cold? " * 60]
    np.testing.assert_allclose(
        unfrozen.encode_queries(queries), model.encode(queries), rtol=0, atol=1e-5
    )


@pytest.mark.unit
@pytest.mark.parametrize("failure", ["trace raises", "trace answers differently"])
def test_a_model_that_cannot_be_traced_keeps_the_eager_pass(
    model: EmbeddingModel,
    failure: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    untraced = fresh(model)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("data-dependent control flow")

    def constant(module: Any) -> Any:  # a trace that took one path for every input
        return lambda *tensors: torch.ones(tensors[0].shape[0], model.dimension)

    if failure == "trace raises":
        monkeypatch.setattr(torch.jit, "trace", refuse)
    else:
        monkeypatch.setattr(torch.jit, "optimize_for_inference", constant)
    assert not untraced.trace_queries()
    assert "queries keep the eager pass" in caplog.text
    queries = ["a galaxy far away", "what makes sourdough rise?"]
    np.testing.assert_allclose(
        untraced.encode_queries(queries), model.encode(queries), rtol=0, atol=1e-5
    )


@pytest.mark.unit
def test_a_model_that_is_not_installed_is_a_typed_error() -> None:
    with pytest.raises(CommandError) as error:
        load_model("acme/not-installed")
    assert error.value.code == ErrorCode.INVALID
    assert DEFAULT_MODEL.name in error.value.message


@pytest.mark.integration
def test_the_registry_lists_the_packaged_model_and_model_directories(
    models_dir: Path, tmp_path: Path
) -> None:
    (models_dir / "notes").mkdir(exist_ok=True)  # not a model: ignored
    found = {name: m.info for name, m in installed_models(models_dir).items()}
    assert found == {
        DEFAULT_MODEL.name: DEFAULT_MODEL,
        TINY_MODEL: found[TINY_MODEL],
    }
    assert (found[TINY_MODEL].dimension, found[TINY_MODEL].max_seq_length) == (
        TINY_DIMENSION,
        TINY_MAX_SEQ,
    )
    assert set(installed_models(tmp_path / "missing")) == {DEFAULT_MODEL.name}


@pytest.mark.integration
def test_a_model_directory_loads_by_name(
    models_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    tiny = load_model(TINY_MODEL, "cpu", models_dir)
    # No progress bar of its weights drawn into the service's log.
    assert "Loading weights" not in capfd.readouterr().err
    vectors = tiny.encode(["one text", "another text"])
    assert vectors.shape == (2, TINY_DIMENSION)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    with pytest.raises(CommandError) as error:
        load_model(TINY_MODEL, "cpu", None)  # not in the default places
    assert error.value.details["available"] == [DEFAULT_MODEL.name]


class SmallGpu:
    """The real encoder on a pretend GPU that holds at most ``fits`` texts per batch:
    a larger batch raises the out-of-memory error CUDA raises (there is no GPU here)."""

    def __init__(self, encoder: Any, fits: int) -> None:
        self.encoder = encoder
        self.fits = fits
        self.tried: list[int] = []

    def encode(self, texts: list[str], batch_size: int, **options: Any) -> Any:
        self.tried.append(batch_size)
        if batch_size > self.fits:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.encoder.encode(texts, batch_size=batch_size, **options)

    def get_embedding_dimension(self) -> int:
        return int(self.encoder.get_embedding_dimension())

    def get_max_seq_length(self) -> int:
        return int(self.encoder.get_max_seq_length())


@pytest.mark.integration
def test_out_of_memory_halves_the_batch_and_keeps_the_size_that_fits(
    model: EmbeddingModel,
) -> None:
    gpu = SmallGpu(model._encoder, fits=12)
    pretend = EmbeddingModel(model.name, gpu, "cuda", batch_size=64)  # type: ignore[arg-type]
    texts = [f"text number {i} about galaxies" for i in range(30)]
    vectors = pretend.encode(texts)
    assert gpu.tried == [64, 32, 16, 8]
    assert pretend.batch_size == 8  # the next call starts with what worked
    assert np.allclose(vectors, model.encode(texts), atol=1e-5)
    pretend.encode(texts[:3])
    assert gpu.tried[-1] == 8
    # Even one text at a time does not fit: the error reaches the caller (the worker
    # then retries the work later, and reports it failed after its last delivery).
    gpu.fits = 0
    with pytest.raises(torch.cuda.OutOfMemoryError):
        pretend.encode(texts[:2])
    assert gpu.tried[-1] == 1


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
