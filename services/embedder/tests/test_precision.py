"""What documents are encoded in (``SEMANTIK_EMBED_PRECISION``): the setting, each
precision's vectors against float32's, ``auto``'s choice, and queries that stay
comparable with documents of any precision."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from embedder_service import model as model_module
from embedder_service import onnx_pass
from embedder_service import precision as precision_module
from embedder_service.config import EmbedderSettings
from embedder_service.model import EmbeddingModel, RememberedChoice, load_model
from embedder_service.onnx_pass import OnnxEncoder
from pydantic import ValidationError
from semantik_contracts import ErrorCode
from semantik_runtime.errors import CommandError
from sentence_transformers import SentenceTransformer

from tests.models import TINY_MODEL

#: The least cosine to float32 an int8 document vector is held to here: on 128 SciFact
#: passages ONNX Runtime's int8 reached min 0.990, mean 0.995 (torch's own, the pass of
#: a model that does not export: 0.973 and 0.983; README, "Encoder precision");
#: bfloat16 is held to the query pass's own bound, BFLOAT16_MIN_COSINE.
INT8_MIN_COSINE = 0.98
TORCH_INT8_MIN_COSINE = 0.95

PASSAGES = [
    "Chaperones bind the exposed hydrophobic residues of a misfolded protein.",
    "A randomized trial found no effect of vitamin D on fracture rates. " * 20,
    "ünïcödé — 東京の研究所 🚀",
]


def fresh(model: EmbeddingModel) -> EmbeddingModel:
    """The loaded model's float32 encoder, its documents at no precision chosen yet."""
    return EmbeddingModel(model.name, model._encoder, model.device, model.batch_size)


@pytest.fixture(scope="module")
def passes_built_once() -> Iterator[None]:
    """Each reduced-precision copy of an encoder built, and each pass's vectors of the
    probes encoded, once for the module: ``use_precision`` builds and probes its
    candidates on every call (``auto`` builds both), and bfloat16, emulated on a CPU
    without its units, spent seconds on the probes each time. Both are deterministic,
    so every call still decides on the same copies and the same cosines."""
    with pytest.MonkeyPatch.context() as patch:
        builders = {name: functools.cache(build) for name, build in model_module._BUILDERS.items()}
        patch.setattr(model_module, "_BUILDERS", builders)
        encode = EmbeddingModel._encode
        probed: dict[SentenceTransformer, np.ndarray] = {}

        def probes_once(
            self: EmbeddingModel, encoder: SentenceTransformer, texts: Sequence[str]
        ) -> np.ndarray:
            if texts is not model_module._DOCUMENT_PROBES:
                return encode(self, encoder, texts)
            if encoder not in probed:
                probed[encoder] = encode(self, encoder, texts)
            return probed[encoder]

        patch.setattr(EmbeddingModel, "_encode", probes_once)
        yield


@pytest.fixture(scope="module")
def int8(model: EmbeddingModel, passes_built_once: None) -> EmbeddingModel:
    """The loaded model with its documents in int8 (quantized once for the module)."""
    quantized = fresh(model)
    quantized.use_precision("int8")
    return quantized


#: Each precision setting: its variable, its field, and what it allows.
SETTINGS = {
    "documents": ("SEMANTIK_EMBED_PRECISION", "precision", "fp32, bf16, int8, auto"),
    "queries": ("SEMANTIK_QUERY_PRECISION", "query_precision", "auto, int8"),
}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("setting", "given", "parsed"),
    [
        ("documents", None, "auto"),
        ("documents", "int8", "int8"),
        ("documents", " BF16 ", "bf16"),
        ("documents", "fp32", "fp32"),
        ("queries", None, "auto"),
        ("queries", " INT8 ", "int8"),
        ("queries", "auto", "auto"),
    ],
)
def test_the_precision_settings_parse(
    setting: str, given: str | None, parsed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable, field, _ = SETTINGS[setting]
    if given is None:
        monkeypatch.delenv(variable, raising=False)
    else:
        monkeypatch.setenv(variable, given)
    assert getattr(EmbedderSettings(), field) == parsed


@pytest.mark.unit
@pytest.mark.parametrize(
    ("setting", "bad"),
    [
        *(
            ("documents", bad)
            for bad in ["fp16", "int4", "", "fp32; rm -rf /", "\uff41\uff55\uff54\uff4f"]
        ),
        # bf16 is for documents only: queries take it from auto where it is close enough.
        *(("queries", bad) for bad in ["bf16", "fp16", "", "int8; true", "\uff49nt8"]),
    ],
)
def test_an_unknown_precision_stops_the_embedder_at_start(
    setting: str, bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable, _, allowed = SETTINGS[setting]
    monkeypatch.setenv(variable, bad)
    with pytest.raises(ValidationError) as error:
        EmbedderSettings()
    assert f"use one of {allowed}" in str(error.value)


def assert_close_unit_vectors(got: np.ndarray, want: np.ndarray, least: float) -> None:
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert np.sum(got * want, axis=1).min() >= least


@pytest.mark.unit
def test_int8_documents_are_unit_vectors_close_to_float32(
    model: EmbeddingModel, int8: EmbeddingModel, caplog: pytest.LogCaptureFixture
) -> None:
    assert int8.precision == "int8"
    caplog.set_level("WARNING", logger=model_module.__name__)
    fresh(model).use_precision("int8")  # a lossy choice is said where WARNING is kept
    said = "documents encode in int8 (asked for; onnxruntime; least probe cosine to fp32"
    assert said in caplog.text
    assert "asked for; onnxruntime; least probe cosine to fp32" in int8.precision_reason
    assert isinstance(int8._documents, OnnxEncoder)
    got, want = int8.encode(PASSAGES), model.encode(PASSAGES)
    assert_close_unit_vectors(got, want, INT8_MIN_COSINE)
    assert not np.allclose(got, want, atol=1e-4)  # int8 is in use
    # A copy was exported (with eager attention) and quantized: the shared float32
    # encoder is untouched, its attention as it was.
    assert all(p.dtype == torch.float32 for p in model._encoder.parameters())
    assert model._encoder[0].auto_model.config._attn_implementation != "eager"
    assert int8.encode([]).shape == (0, model.dimension)


@pytest.mark.unit
def test_without_vnni_int8_weights_take_seven_bits_and_stay_close(
    model: EmbeddingModel, int8: EmbeddingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CPU without VNNI (AVX2 only) could saturate 8-bit products: its weights are
    quantized to 7 bits, which moves the vectors a little and keeps them close."""
    monkeypatch.setattr(onnx_pass, "vnni", lambda: False)
    seven_bits = onnx_pass.onnx_int8_encoder(model._encoder)
    got = model._encode(seven_bits, PASSAGES)
    assert_close_unit_vectors(got, model.encode(PASSAGES), INT8_MIN_COSINE)
    if onnx_pass.vnni():  # this CPU's own pass took 8 bits: the two differ
        assert not np.allclose(got, int8.encode(PASSAGES), atol=1e-4)


def feed_forward(activation: list[tuple[str, list[str]]]) -> onnx.ModelProto:
    """A layer norm, then ``x @ W1 -> activation -> @ W2``: the activation given as
    (operator, extra constant inputs) steps chained from the first product's output."""
    h = onnx.helper
    weights = [
        h.make_tensor(name, onnx.TensorProto.FLOAT, [4, 4], [0.1] * 16) for name in ("w1", "w2")
    ]
    scale = h.make_tensor("c", onnx.TensorProto.FLOAT, [], [0.5])
    nodes = [
        h.make_node("LayerNormalization", ["x", "c", "c"], ["normed"], name="norm"),
        h.make_node("MatMul", ["normed", "w1"], ["up"], name="up"),
    ]
    last = "up"
    for step, (op, extra) in enumerate(activation):
        nodes.append(h.make_node(op, [last, *extra], [f"a{step}"], name=f"a{step}"))
        last = f"a{step}"
    nodes.append(h.make_node("MatMul", [last, "w2"], ["y"], name="down"))
    graph = h.make_graph(
        nodes,
        "ffn",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
        [*weights, scale],
    )
    return h.make_model(graph)


@pytest.mark.unit
@pytest.mark.parametrize(
    "activation",
    [
        [("Relu", [])],
        [("Div", ["c"]), ("Erf", []), ("Add", ["c"]), ("Mul", ["up"]), ("Mul", ["c"])],
        [("Tanh", []), ("Add", ["c"]), ("Mul", ["c"])],
        [("Sigmoid", []), ("Mul", ["up"])],
    ],
    ids=["relu", "exact-gelu", "tanh-gelu", "silu"],
)
def test_the_products_that_read_an_activation_are_the_feed_forward_down_projections(
    activation: list[tuple[str, list[str]]],
) -> None:
    assert onnx_pass.activation_products(feed_forward(activation)) == ["down"]


@pytest.mark.unit
def test_a_product_far_from_any_activation_is_quantized() -> None:
    """Only a few elementwise steps may lie between the activation and the product:
    a product after a layer norm, a softmax or another product is an ordinary one."""
    far = [("Relu", []), *[("Add", ["c"])] * 5]
    assert onnx_pass.activation_products(feed_forward(far)) == []
    assert onnx_pass.activation_products(feed_forward([("Softmax", [])])) == []
    assert onnx_pass.activation_products(feed_forward([])) == []


@pytest.mark.unit
def test_int8_keeps_the_feed_forward_down_projections_in_float32(int8: EmbeddingModel) -> None:
    """all-MiniLM-L6-v2's six ``output.dense`` products stay float32 MatMuls; every
    other product with a weight (queries, keys, values, attention outputs, the
    feed-forward up projections: 30) multiplies in int8."""
    assert isinstance(int8._documents, OnnxEncoder)
    graph = onnx.load_from_string(int8._documents._model).graph
    float_products = {node.name for node in graph.node if node.op_type == "MatMul"}
    kept = {name for name in float_products if "/output/dense/" in name and "attention" not in name}
    assert len(kept) == 6
    int8_products = [node for node in graph.node if node.op_type == "MatMulInteger"]
    assert len(int8_products) == 30
    assert not any(
        "/output/dense/" in node.name and "attention" not in node.name for node in int8_products
    )


def products(shared: bool = False) -> onnx.ModelProto:
    """``x @ W1`` and ``x @ W2`` (the same weight if ``shared``), their sum the output."""
    h = onnx.helper
    rng = np.random.default_rng(7)
    names = ["w", "w"] if shared else ["w1", "w2"]
    weights = [
        onnx.numpy_helper.from_array(rng.normal(0, 0.1, (4, 3)).astype(np.float32), name)
        for name in dict.fromkeys(names)
    ]
    nodes = [
        h.make_node("MatMul", ["x", names[0]], ["p1"], name="first"),
        h.make_node("MatMul", ["x", names[1]], ["p2"], name="second"),
        h.make_node("Add", ["p1", "p2"], ["y"], name="sum"),
    ]
    graph = h.make_graph(
        nodes,
        "products",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 4])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n", 3])],
        weights,
    )
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])


def run_onnx(model: onnx.ModelProto, x: np.ndarray, output: str = "y") -> np.ndarray:
    import onnxruntime as ort

    if output not in {o.name for o in model.graph.output}:
        model = onnx.ModelProto.FromString(model.SerializeToString())
        model.graph.output.append(onnx.helper.make_empty_tensor_value_info(output))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run([output], {"x": x})
    return np.asarray(out)


#: A product's input whose third channel runs a hundred times the others' range.
SKEWED = (np.random.default_rng(3).normal(0, 1, (64, 4)) * [1, 1, 100, 1]).astype(np.float32)


@pytest.mark.unit
def test_smoothing_evens_out_a_products_input_and_keeps_its_result() -> None:
    """``(x / s) @ (s * W)`` is ``x @ W``: the float32 model answers the same, while the
    input each product quantizes has its outlying channel brought near the others."""
    model = products()
    before = run_onnx(model, SKEWED)
    assert onnx_pass.smooth(model, [{"x": SKEWED}], set()) == 2
    np.testing.assert_allclose(run_onnx(model, SKEWED), before, rtol=1e-4, atol=1e-4)
    first = next(node for node in model.graph.node if node.name == "first")
    assert first.input[0] != "x"  # it reads the smoothed input now
    spread = np.abs(SKEWED).max(axis=0)
    peaks = np.abs(run_onnx(model, SKEWED, first.input[0])).max(axis=0)
    assert peaks.max() / peaks.min() < spread.max() / spread.min() / 4
    order = [node.name for node in model.graph.node]
    assert order.index("x/smoothing/mul") < order.index("first")


@pytest.mark.unit
def test_products_reading_one_input_share_its_smoothing() -> None:
    """Two products of one input (as a layer's query, key and value are) read one
    smoothed tensor: one ``Mul``, its factor even over both weights' ranges."""
    model = products()
    onnx_pass.smooth(model, [{"x": SKEWED}], set())
    assert [node.name for node in model.graph.node if node.op_type == "Mul"] == ["x/smoothing/mul"]
    readers = {node.name: node.input[0] for node in model.graph.node if node.op_type == "MatMul"}
    assert readers == {"first": "x/smoothed", "second": "x/smoothed"}


@pytest.mark.unit
def test_smoothing_leaves_skipped_and_shared_weights_alone() -> None:
    """A product left in float32 (``skip``) is not smoothed, nor is a weight two
    products read: scaling it for one would change the other's result."""
    skipped = products()
    assert onnx_pass.smooth(skipped, [{"x": SKEWED}], {"first"}) == 1
    assert [node.input[0] for node in skipped.graph.node if node.name == "first"] == ["x"]
    shared = products(shared=True)
    before = run_onnx(shared, SKEWED)
    assert onnx_pass.smooth(shared, [{"x": SKEWED}], set()) == 0
    assert len(shared.graph.node) == 3
    np.testing.assert_array_equal(run_onnx(shared, SKEWED), before)


@pytest.mark.unit
def test_int8_smooths_its_products_and_keeps_the_embedding_tables_in_float32(
    model: EmbeddingModel, int8: EmbeddingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each of the 30 int8 products reads a smoothed input: 18 ``Mul``s, three a layer
    (the query, key and value read one tensor and share one; the attention output; the
    up projection). The embedding tables stay float32, and the vectors are closer to
    float32's than the same pass unsmoothed."""
    assert isinstance(int8._documents, OnnxEncoder)
    graph = onnx.load_from_string(int8._documents._model).graph
    smoothing = [node for node in graph.node if node.name.endswith("/smoothing/mul")]
    assert len(smoothing) == 18
    stored = {t.name: t.data_type for t in graph.initializer}
    tables = {n.input[0] for n in graph.node if n.op_type == "Gather" and n.input[0] in stored}
    assert any("word_embeddings" in name for name in tables)
    assert {stored[name] for name in tables} == {onnx.TensorProto.FLOAT}
    monkeypatch.setattr(onnx_pass, "smooth", lambda *_: 0)
    unsmoothed = model._encode(onnx_pass.onnx_int8_encoder(model._encoder), PASSAGES)
    want = model.encode(PASSAGES)
    smoothed = np.sum(int8.encode(PASSAGES) * want, axis=1)
    assert smoothed.min() > np.sum(unsmoothed * want, axis=1).min()


@pytest.mark.unit
def test_int8_batches_keep_each_text_in_its_place(int8: EmbeddingModel) -> None:
    """The ONNX pass batches the longest texts first, as sentence-transformers does:
    each vector still lands on its own text's row, whatever the batch it went in.
    (Not the very same vector: dynamic int8 scales each batch's activations together,
    so a text's vector moves a little with its batch, as with torch's dynamic int8.)"""
    topics = ["volcanoes", "violins", "tax law", "sourdough", "glaciers", "chess openings"]
    topics += ["malaria", "jazz", "orbital mechanics", "beekeeping", "medieval castles"]
    texts = [f"A note on {topic}. " * (1 + 7 * (i % 4)) for i, topic in enumerate(topics)]
    int8.batch_size = 4
    try:
        batched = int8.encode(texts)
    finally:
        int8.batch_size = 32
    one_by_one = np.vstack([int8.encode([text]) for text in texts])
    similarity = batched @ one_by_one.T
    assert list(similarity.argmax(axis=1)) == list(range(len(texts)))
    assert np.diag(similarity).min() >= INT8_MIN_COSINE


@pytest.mark.unit
def test_each_lane_encodes_int8_on_its_own_session_with_its_threads(
    int8: EmbeddingModel,
) -> None:
    """Two lanes of one thread each (``encoding_lanes`` on 2 cores) get a session each,
    with the torch thread count of their lane, and the same vectors."""
    assert isinstance(int8._documents, OnnxEncoder)
    documents = int8._documents
    with model_module.encoder_thread("lane", 1, workers=2) as lanes:
        done = [lanes.submit(lambda: (documents.session(), int8.encode(PASSAGES))) for _ in "ab"]
        (first, vectors), (second, again) = (job.result() for job in done)
    threads = {s.get_session_options().intra_op_num_threads for s in (first, second)}
    assert first is not second and threads == {1}
    np.testing.assert_allclose(vectors, again, atol=1e-6)


@pytest.mark.unit
def test_a_model_that_does_not_export_takes_torchs_int8(
    model: EmbeddingModel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(*_: object) -> OnnxEncoder:
        raise RuntimeError("Exporting the operator 'aten::weird' is not supported")

    monkeypatch.setattr(model_module, "onnx_int8_encoder", refuse)
    # Built now, not taken from passes_built_once's cache of the module's other tests.
    monkeypatch.setitem(model_module._BUILDERS, "int8", model_module.int8_pass)
    caplog.set_level("WARNING", logger=model_module.__name__)
    quantized = fresh(model)
    assert quantized.use_precision("int8") == "int8"
    assert "int8 through torch" in caplog.text and "aten::weird" in caplog.text
    assert "asked for; torch; least probe cosine" in quantized.precision_reason
    got = quantized.encode(PASSAGES)
    assert_close_unit_vectors(got, model.encode(PASSAGES), TORCH_INT8_MIN_COSINE)


@pytest.mark.unit
@pytest.mark.usefixtures("passes_built_once")
def test_bfloat16_documents_are_unit_vectors_within_the_query_bound(
    model: EmbeddingModel,
) -> None:
    # Correctness only: without bfloat16 units (this CPU) torch emulates it, slowly.
    half = fresh(model)
    assert half.use_precision("bf16") == "bf16"
    if not model_module.native_bfloat16():
        assert "emulated, slower than fp32" in half.precision_reason
    texts = PASSAGES[:1] + PASSAGES[2:]
    assert_close_unit_vectors(
        half.encode(texts), model.encode(texts), model_module.BFLOAT16_MIN_COSINE
    )


@pytest.mark.unit
def test_queries_of_an_int8_model_keep_the_float32_pass(
    model: EmbeddingModel, int8: EmbeddingModel
) -> None:
    """Queries are compared with documents of any precision: they keep float32's vectors
    (or bfloat16's within its bound; ``trace_queries`` checks its passes against the
    float32 encoder), never int8's loss on top of the documents'."""
    queries = ["do chaperones refold proteins?", "galaxy"]
    np.testing.assert_allclose(
        int8.encode_queries(queries), model.encode(queries), rtol=0, atol=1e-5
    )


@pytest.mark.unit
@pytest.mark.usefixtures("passes_built_once")
def test_auto_takes_int8_on_a_cpu_without_bfloat16_units_where_close_and_faster(
    model: EmbeddingModel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without bfloat16 units the candidate is int8 (bfloat16, emulated, is never
    built), held to its own bound and raced against float32 (the race is told)."""
    monkeypatch.setattr(model_module, "native_bfloat16", lambda: False)
    monkeypatch.setitem(model_module._BUILDERS, "bf16", never_built)
    raced: list[set[str]] = []

    def race(_: EmbeddingModel, passes: dict[str, object]) -> dict[str, float]:
        raced.append(set(passes))
        return {"fp32": 1.0, "int8": 0.7}

    monkeypatch.setattr(model_module, "_race_documents", race)
    chosen = fresh(model)
    caplog.set_level("INFO", logger=model_module.__name__)
    assert chosen.use_precision("auto") == "int8"
    assert raced == [{"fp32", "int8"}]
    said = [r for r in caplog.records if "documents encode in int8 (auto: " in r.getMessage()]
    assert [r.levelname for r in said] == ["INFO"]  # within auto's bound: not a warning
    assert isinstance(chosen._documents, OnnxEncoder)
    assert "no native bfloat16 on this CPU" in chosen.precision_reason
    assert "int8 through onnxruntime" in chosen.precision_reason
    assert_close_unit_vectors(
        chosen.encode(PASSAGES), model.encode(PASSAGES), model_module.INT8_MIN_COSINE
    )
    # Not faster by DOCUMENT_MIN_GAIN: float32 stays.
    monkeypatch.setattr(model_module, "DOCUMENT_MIN_GAIN", 0.6)
    kept = fresh(model)
    assert kept.use_precision("auto") == "fp32"
    assert kept._documents is model._encoder
    np.testing.assert_allclose(kept.encode(PASSAGES), model.encode(PASSAGES), atol=0)


def never_built(*_: object) -> None:
    raise AssertionError("auto built a pass it may not take on this CPU")


@pytest.mark.unit
@pytest.mark.usefixtures("passes_built_once")
def test_int8_is_held_to_its_own_bound(
    model: EmbeddingModel, int8: EmbeddingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The smoothed int8 pass keeps ``INT8_MIN_COSINE`` on auto's probes, under
    bfloat16's bound; held to that bound it is refused, however fast, and said."""
    expected = int8._encode(int8._encoder, model_module._DOCUMENT_PROBES)
    cosine = model_module._least_cosine(
        int8._encode(int8._documents, model_module._DOCUMENT_PROBES), expected
    )
    assert model_module.INT8_MIN_COSINE <= cosine < model_module.DOCUMENT_MIN_COSINE
    monkeypatch.setattr(model_module, "native_bfloat16", lambda: False)
    monkeypatch.setitem(model_module.AUTO_MIN_COSINE, "int8", model_module.DOCUMENT_MIN_COSINE)
    monkeypatch.setattr(model_module, "_race_documents", never_built)
    refused = fresh(model)
    assert refused.use_precision("auto") == "fp32"
    assert f"int8 probe cosine {cosine:.4f} < 0.9999" in refused.precision_reason


@pytest.mark.unit
@pytest.mark.usefixtures("passes_built_once")
def test_auto_takes_bfloat16_where_native_close_and_faster(
    model: EmbeddingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CPU with bfloat16 units, which this one may not be: its race is told.
    monkeypatch.setattr(model_module, "native_bfloat16", lambda: True)
    raced: list[set[str]] = []

    def race(_: EmbeddingModel, passes: dict[str, object]) -> dict[str, float]:
        raced.append(set(passes))
        return {"fp32": 1.0, "bf16": 0.5, "int8": 0.4}

    monkeypatch.setattr(model_module, "_race_documents", race)
    monkeypatch.setitem(model_module._BUILDERS, "int8", never_built)
    chosen = fresh(model)
    assert chosen.use_precision("auto") == "bf16"
    assert raced == [{"fp32", "bf16"}]  # int8, however fast, is not built where bf16 is native
    assert chosen.precision_reason.startswith("auto: ")
    # The bfloat16 pass runs the float32 encoder's own weights under autocast.
    assert isinstance(chosen._documents, precision_module.BFloat16Pass)
    assert chosen._documents.encoder is model._encoder
    assert "through torch autocast" in chosen.precision_reason
    # Not faster by DOCUMENT_MIN_GAIN: float32 stays (the candidates are built again).
    monkeypatch.setattr(model_module, "DOCUMENT_MIN_GAIN", 0.4)
    assert fresh(model).use_precision("auto") == "fp32"


@pytest.mark.unit
@pytest.mark.usefixtures("passes_built_once")
def test_auto_keeps_its_choice_for_the_next_start_of_the_same_model_and_machine(
    model: EmbeddingModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart takes the kept choice without probing or racing; another model or
    machine (another key) decides afresh; a bad file is decided over and rewritten."""
    monkeypatch.setattr(model_module, "native_bfloat16", lambda: True)
    monkeypatch.setattr(
        model_module, "_race_documents", lambda _, passes: {"fp32": 1.0, "bf16": 0.5}
    )
    files = tmp_path / "model"
    files.mkdir()
    (files / "weights.bin").write_bytes(b"w")
    remembered = RememberedChoice.of(tmp_path / "embedder", "m", str(files))
    assert fresh(model).use_precision("auto", remembered) == "bf16"
    kept = json.loads(remembered.path.read_text())
    assert kept == {remembered.key: {"chosen": "bf16", "why": kept[remembered.key]["why"]}}

    def no_probing(*_: object) -> None:
        raise AssertionError("probed again")

    monkeypatch.setattr(EmbeddingModel, "_choose_precision", no_probing)
    again = fresh(model)
    assert again.use_precision("auto", remembered) == "bf16"
    assert "kept from an earlier start" in again.precision_reason
    assert isinstance(again._documents, precision_module.BFloat16Pass)
    # Without bfloat16 units after all (the file moved to another machine): not taken.
    monkeypatch.setattr(model_module, "native_bfloat16", lambda: False)
    assert remembered.get() is None
    monkeypatch.setattr(model_module, "native_bfloat16", lambda: True)

    (files / "weights.bin").write_bytes(b"other weights")  # another model: another key
    changed = RememberedChoice.of(tmp_path / "embedder", "m", str(files))
    assert changed.key != remembered.key and changed.get() is None
    for bad in ("not json", "[1, 2]", json.dumps({remembered.key: {"chosen": "fp8"}})):
        remembered.path.write_text(bad)
        assert remembered.get() is None
    monkeypatch.undo()
    monkeypatch.setattr(model_module, "native_bfloat16", lambda: False)
    monkeypatch.setattr(
        model_module, "_race_documents", lambda _, passes: {"fp32": 1.0, "int8": 0.95}
    )
    assert fresh(model).use_precision("auto", remembered) == "fp32"  # decided again
    assert json.loads(remembered.path.read_text())[remembered.key]["chosen"] == "fp32"


@pytest.mark.unit
def test_a_choice_that_cannot_be_kept_costs_only_the_probing(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")  # where the directory should be
    remembered = RememberedChoice(blocked / "embedder" / "precision-choices.json", "k")
    remembered.put("fp32", "why")  # logged, not raised
    assert remembered.get() is None


@pytest.mark.unit
@pytest.mark.parametrize("asked", ["bf16", "int8"])
def test_a_gpu_refuses_cpu_precisions(model: EmbeddingModel, asked: str) -> None:
    gpu = EmbeddingModel(model.name, model._encoder, "cuda", model.batch_size)
    with pytest.raises(CommandError) as error:
        gpu.use_precision(asked)
    assert error.value.code == ErrorCode.INVALID
    assert f"precision {asked} is for a CPU" in error.value.message
    assert gpu.use_precision("auto") == gpu.precision


QUERIES = ["do chaperones refold proteins?", "galaxy", "ünïcödé — 東京 🚀 " * 30]


@pytest.mark.unit
@pytest.mark.usefixtures("passes_built_once")
def test_int8_queries_are_unit_vectors_close_to_float32_from_the_documents_model(
    model: EmbeddingModel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger=model_module.__name__)
    both = fresh(model)
    both.use_precision("int8")
    assert both.use_query_precision("int8") == "int8" == both.query_dtype
    # One quantized model serves both sides (the documents' export is not made twice).
    assert both._query_onnx is both._documents
    assert "queries encode in int8 through onnxruntime" in caplog.text
    got = both.encode_queries(QUERIES)
    assert_close_unit_vectors(got, model.encode(QUERIES), INT8_MIN_COSINE)
    # A lone query (ONNX Runtime pads nothing for it) stays as close to its batched
    # vector as int8 is to float32: the activations' scales are the batch's, so a
    # query moves a little with its batch-mates (least cosine 0.989 on an AVX2-only AMD
    # EPYC; within 0.02 of each coordinate on an AVX512-VNNI Xeon).
    assert_close_unit_vectors(both.encode_queries(QUERIES[:1]), got[:1], INT8_MIN_COSINE)
    assert both.encode_queries([]).shape == (0, model.dimension)


@pytest.mark.unit
def test_int8_queries_beside_float32_documents_export_their_own_model(
    model: EmbeddingModel,
) -> None:
    queries = fresh(model)
    queries.use_precision("fp32")
    assert queries.use_query_precision("int8") == "int8"
    assert isinstance(queries._query_onnx, OnnxEncoder)
    # Documents keep float32: exactly the loaded model's vectors.
    np.testing.assert_allclose(queries.encode(PASSAGES), model.encode(PASSAGES), atol=1e-5)
    assert_close_unit_vectors(
        queries.encode_queries(QUERIES), model.encode(QUERIES), INT8_MIN_COSINE
    )


@pytest.mark.unit
def test_auto_queries_keep_the_traced_pass(model: EmbeddingModel) -> None:
    assert model.use_query_precision("auto") == model.query_dtype
    assert model._query_onnx is None


@pytest.mark.unit
@pytest.mark.usefixtures("passes_built_once")
@pytest.mark.parametrize("outcome", ["faster", "slower", "too far"])
def test_auto_queries_take_the_documents_int8_model_if_close_and_faster(
    model: EmbeddingModel,
    outcome: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Where the documents encode through an int8 model, ``auto`` queries race it against
    their trace (here the eager float32 pass of a fresh model) and take it if it keeps
    the documents' bound on the probes and is faster; nothing else is exported."""
    caplog.set_level("INFO", logger=model_module.__name__)
    raced: list[dict[str, object]] = []

    def race(_: EmbeddingModel, passes: dict[str, object]) -> dict[str, float]:
        raced.append(passes)
        return {"float32": 1.0, "int8": 0.85 if outcome == "slower" else 0.5}

    monkeypatch.setattr(model_module, "_race", race)
    if outcome == "too far":  # a cosine of 1 cannot be had in int8
        monkeypatch.setattr(model_module, "INT8_MIN_COSINE", 1.0 + 1e-6)
    both = fresh(model)
    both.use_precision("int8")
    chosen = both.use_query_precision("auto")
    if outcome == "faster":
        assert chosen == "int8" == both.query_dtype
        assert both._query_onnx is both._documents  # the documents' model, not another
        assert (
            "queries encode in int8 through onnxruntime, the documents' model "
            "(float32 1000.0 ms, int8 500.0 ms; least probe cosine to fp32 0.99"
        ) in caplog.text
        got = both.encode_queries(QUERIES)
        assert_close_unit_vectors(got, model.encode(QUERIES), model_module.INT8_MIN_COSINE)
    else:
        assert chosen == "float32" == both.query_dtype and both._query_onnx is None
        said = "int8 probe cosine 0.99" if outcome == "too far" else "float32 1000.0 ms"
        assert "queries keep the float32 pass" in caplog.text and said in caplog.text
        np.testing.assert_allclose(both.encode_queries(QUERIES), model.encode(QUERIES), atol=1e-5)
    if outcome == "too far":
        assert raced == []
    else:
        assert raced == [{"float32": None, "int8": both._documents}]


@pytest.mark.unit
@pytest.mark.usefixtures("passes_built_once")
@pytest.mark.parametrize("documents", ["fp32", "bf16"])
def test_auto_queries_beside_float32_or_bfloat16_documents_keep_their_pass(
    model: EmbeddingModel, documents: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_module, "onnx_int8_encoder", refuse_export)
    monkeypatch.setattr(model_module, "_race", refuse_export)
    kept = fresh(model)
    kept.use_precision(documents)
    assert kept.use_query_precision("auto") == "float32" and kept._query_onnx is None


@pytest.mark.unit
def test_the_race_times_int8_queries_on_a_thread_of_one_and_leaves_the_model_s_pass(
    model: EmbeddingModel, int8: EmbeddingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ONNX Runtime takes a session's threads from the thread it is made on: the race
    runs where torch has one thread, as the query thread does."""
    made: list[tuple[str, int]] = []
    session = OnnxEncoder.session

    def counted(self: OnnxEncoder) -> object:
        found = session(self)
        made.append(
            (threading.current_thread().name, found.get_session_options().intra_op_num_threads)
        )
        return found

    monkeypatch.setattr(OnnxEncoder, "session", counted)
    racer = fresh(model)
    timings = model_module._race(racer, {"float32": None, "int8": int8._documents})
    assert set(timings) == {"float32", "int8"} and all(t > 0 for t in timings.values())
    assert racer._traced is None and racer._query_onnx is None
    assert made and {threads for _, threads in made} == {1}
    assert all(name.startswith("query-race") for name, _ in made)


@pytest.mark.unit
def test_int8_queries_fall_back_with_a_warning_on_a_gpu_or_without_an_export(
    model: EmbeddingModel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger=model_module.__name__)
    gpu = EmbeddingModel(model.name, model._encoder, "cuda", model.batch_size)
    assert gpu.use_query_precision("int8") == "float32" and gpu._query_onnx is None
    assert "int8 queries are for a CPU" in caplog.text

    def refuse(*_: object) -> OnnxEncoder:
        raise RuntimeError("Exporting the operator 'aten::weird' is not supported")

    monkeypatch.setattr(model_module, "onnx_int8_encoder", refuse)
    cpu = fresh(model)
    assert cpu.use_query_precision("int8") == "float32" and cpu._query_onnx is None
    assert "no int8 export" in caplog.text and "aten::weird" in caplog.text


def refuse_export(*_: object) -> None:
    raise AssertionError("exported again")


@pytest.mark.integration
def test_an_int8_export_is_kept_and_loaded_at_the_next_start(
    models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The export and quantization (5-8 s of a start for the default model) happen once:
    without a machine cache the int8 model is kept under the choices dir, named by
    everything that shapes it, and the next start loads it instead."""
    monkeypatch.setenv("SEMANTIK_CACHE_DIR", "")
    choices = tmp_path / "embedder"
    first = load_model(TINY_MODEL, "cpu", models_dir, "int8", choices)
    assert first.precision == "int8" and isinstance(first._documents, OnnxEncoder)
    (kept,) = choices.glob("int8-*.onnx")
    # The model's name ("acme/tiny-bert") cannot reach outside the directory.
    assert first.int8_files == (kept,) and kept.parent == choices
    assert kept.name.startswith("int8-acme_tiny_bert-")
    assert not list(choices.glob(".*"))  # nothing half-written left beside it

    monkeypatch.setattr(onnx_pass, "export", refuse_export)
    again = load_model(TINY_MODEL, "cpu", models_dir, "int8", choices)
    assert isinstance(again._documents, OnnxEncoder)
    assert "onnxruntime" in again.precision_reason
    np.testing.assert_allclose(again.encode(PASSAGES), first.encode(PASSAGES), atol=1e-6)
    # Queries in int8 take the same kept model.
    queries = load_model(TINY_MODEL, "cpu", models_dir, "fp32", choices, query_precision="int8")
    assert queries.query_dtype == "int8"

    # A kept file that is cut short or damaged is built again, written over, and said.
    monkeypatch.undo()
    monkeypatch.setenv("SEMANTIK_CACHE_DIR", "")
    caplog.set_level("WARNING", logger=onnx_pass.__name__)
    kept.write_bytes(kept.read_bytes()[:1000])
    rebuilt = load_model(TINY_MODEL, "cpu", models_dir, "int8", choices)
    assert "not used" in caplog.text and str(kept) in caplog.text
    np.testing.assert_allclose(rebuilt.encode(PASSAGES), first.encode(PASSAGES), atol=1e-6)
    assert OnnxEncoder(first._encoder, kept.read_bytes()).embed(PASSAGES).shape[0] == 3

    # Without a choices dir or a cache nothing is kept.
    monkeypatch.chdir(tmp_path)
    plain = load_model(TINY_MODEL, "cpu", models_dir, "int8")
    assert plain.int8_files == () and list(tmp_path.glob("*.onnx")) == []


@pytest.mark.integration
def test_an_int8_export_is_kept_in_the_machines_cache_for_every_data_dir(
    models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine's data dirs (a test's, a tool's, an eval's) share one export: the first
    start builds it into the cache, whose directory only its owner may open, and into
    its data dir; a new data dir's first start, or a tool's model with none, loads it
    from the cache, and the new data dir gets its copy. A cache that cannot be written
    (a read-only home) leaves it in the data dir alone."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SEMANTIK_CACHE_DIR", str(cache))
    first = load_model(TINY_MODEL, "cpu", models_dir, "int8", tmp_path / "one")
    (kept,) = (cache / "onnx").glob("int8-*.onnx")
    assert first.int8_files == (kept, tmp_path / "one" / kept.name)
    assert (cache / "onnx").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "one" / kept.name).read_bytes() == kept.read_bytes()

    monkeypatch.setattr(onnx_pass, "export", refuse_export)
    for choices in (tmp_path / "two", None):
        again = load_model(TINY_MODEL, "cpu", models_dir, "int8", choices)
        assert isinstance(again._documents, OnnxEncoder)
        np.testing.assert_allclose(again.encode(PASSAGES), first.encode(PASSAGES), atol=1e-6)
    assert (tmp_path / "two" / kept.name).read_bytes() == kept.read_bytes()

    # The cache lost (a container's home), the data dir's copy serves.
    kept.unlink()
    load_model(TINY_MODEL, "cpu", models_dir, "int8", tmp_path / "two")
    assert kept.is_file()

    monkeypatch.undo()
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    monkeypatch.setenv("SEMANTIK_CACHE_DIR", str(blocked))
    load_model(TINY_MODEL, "cpu", models_dir, "int8", tmp_path / "three")
    assert len(list((tmp_path / "three").glob("int8-*.onnx"))) == 1
    assert blocked.read_text() == "not a directory"


@pytest.mark.unit
def test_the_machines_cache_is_the_users_unless_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEMANTIK_CACHE_DIR", str(tmp_path / "set"))
    assert onnx_pass.cache_directory() == tmp_path / "set"
    monkeypatch.setenv("SEMANTIK_CACHE_DIR", " ")
    assert onnx_pass.cache_directory() is None  # set but empty: no machine cache
    monkeypatch.delenv("SEMANTIK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert onnx_pass.cache_directory() == tmp_path / "xdg" / "semantik"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert onnx_pass.cache_directory() == tmp_path / "home" / ".cache" / "semantik"


@pytest.mark.unit
def test_a_kept_int8_export_is_named_by_what_shapes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another model version, another weights' width (VNNI) or another exporter gives
    another file; writing it removes the same model's older ones, not other models'."""
    name = "../../etc/passwd"
    kept = onnx_pass.kept_file(tmp_path, name, ["m", 1])
    assert kept.parent == tmp_path and "/" not in kept.name and ".." not in kept.name
    assert kept == onnx_pass.kept_file(tmp_path, name, ["m", 1])
    assert kept != onnx_pass.kept_file(tmp_path, name, ["m", 2])
    other_cpu = not onnx_pass.vnni()
    monkeypatch.setattr(onnx_pass, "vnni", lambda: other_cpu)
    assert kept != onnx_pass.kept_file(tmp_path, name, ["m", 1])
    monkeypatch.undo()
    monkeypatch.setattr(onnx_pass.torch, "__version__", "0.0.1")
    older = onnx_pass.kept_file(tmp_path, name, ["m", 1])
    assert older != kept
    other = onnx_pass.kept_file(tmp_path, "another-model", ["m", 1])
    for path in (older, other):
        path.write_bytes(b"model")
    onnx_pass.keep(kept, b"new model")
    assert kept.read_bytes() == b"new model"
    assert not older.exists() and other.read_bytes() == b"model"


@pytest.mark.unit
def test_an_int8_export_that_cannot_be_kept_still_encodes(
    model: EmbeddingModel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A data dir that cannot be written to only costs the export at the next start."""
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    caplog.set_level("INFO", logger=onnx_pass.__name__)
    onnx_pass.keep(blocked / "int8-m-0.onnx", b"model")
    assert "int8 model not kept" in caplog.text
    assert blocked.read_text() == "not a directory"
