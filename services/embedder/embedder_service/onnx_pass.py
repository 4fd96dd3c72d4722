"""The documents' pass in dynamic int8 (``SEMANTIK_EMBED_PRECISION=int8``) through ONNX
Runtime, on a CPU.

The model's whole module chain (transformer, pooling, whatever its directory lists) is
exported with torch's TorchScript exporter, with eager attention so that ONNX Runtime
fuses each layer's attention, layer norms and GELU into single kernels; ``quantize``
then turns its matrix products into int8 ones (ONNX Runtime's dynamic quantization:
each weight column with its own scale, each batch's activations scaled together as they
come). The result is kept in the data dir (``kept_file``): a later start loads it.
Measured on 2 threads of a Xeon with AVX512-VNNI and AMX, 256
SciFact passages, three rounds: float32 32.8-33.0 chunks/s, this int8 pass 55.8-56.6
(cosine to float32 on 128 passages 0.990 at worst, 0.995 on average), torch's own
dynamic int8 47.0-47.9 (0.973, 0.983), bfloat16 55.0-55.6 (0.99997); ONNX Runtime's
float32 pass was 0.92-0.97x torch's, so documents keep torch for float32 and bfloat16.
Queries keep torch's frozen float32 trace (``EmbeddingModel.trace_queries``): the
exported float32 pass gave the same vectors (within 1e-6) but took 5.5 against 4.5 ms
a query on one thread.

Tokenizing stays the model's own (``SentenceTransformer.preprocess``), so truncation
and special tokens are exactly ``encode``'s.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)

#: The ONNX operator set the export targets (ONNX Runtime 1.32 runs up to 23).
OPSET = 17


class SentenceEmbedding(torch.nn.Module):
    """The model's module chain as a function of its tokenizer's tensors: what the ONNX
    export and the query trace (``EmbeddingModel.trace_queries``) record."""

    def __init__(self, encoder: SentenceTransformer, keys: list[str]) -> None:
        super().__init__()
        self.encoder = encoder
        self.keys = keys

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        output = self.encoder(dict(zip(self.keys, tensors, strict=True)))
        embedding: torch.Tensor = output["sentence_embedding"]
        return embedding


def export(encoder: SentenceTransformer, path: Path) -> None:
    """Write ``encoder`` (float32, on the CPU) to ``path`` as an ONNX model taking its
    tokenizer's tensors, named as the tokenizer names them. Batch and sequence length
    stay free."""
    sample = encoder.preprocess(["a passage to export the model with", "and another"])
    keys = [key for key, value in sample.items() if isinstance(value, torch.Tensor)]
    chain = copy.deepcopy(encoder).eval()
    for module in chain.modules():
        # sdpa's export is a chain of small operators ONNX Runtime does not fuse (the
        # int8 pass: 1.2x against 1.7x with eager attention's pattern).
        setter = getattr(module, "set_attn_implementation", None)
        if callable(setter):
            setter("eager")
            break
    axes = {key: {0: "batch", 1: "tokens"} for key in keys}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python values
        torch.onnx.export(
            SentenceEmbedding(chain, keys),
            tuple(sample[key] for key in keys),
            path,
            input_names=keys,
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


def vnni() -> bool:
    """Whether this CPU multiplies int8 with VNNI (AVX512-VNNI, AVX-VNNI or AMX), from
    /proc/cpuinfo; False where that cannot be read."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(flags.split()))


#: What an activation function becomes in the exported graph (exact GELU: Div, Erf, Add,
#: Mul, Mul; the tanh approximation: Tanh; ReLU, SiLU's Sigmoid), and the elementwise
#: operators between it and the product that reads it.
_ACTIVATIONS = frozenset({"Erf", "Tanh", "Gelu", "FastGelu", "BiasGelu", "Relu", "Sigmoid"})
_ELEMENTWISE = frozenset({"Mul", "Add", "Div", "Sub", "Pow", "Cast"})
#: How far back from a product's input the activation may be: itself and at most four
#: elementwise operators (exact GELU's Add, Mul, Mul after its Erf).
_ACTIVATION_HOPS = 5


def activation_products(model: onnx.ModelProto) -> list[str]:
    """The names of ``model``'s matrix products whose input is an activation function's
    output, within four elementwise operators: each feed-forward block's down
    projection (BERT's ``output.dense``). After GELU its input has the widest range of
    any product's (a long tail of large values), so one int8 scale for a whole batch of
    it loses the most: of all-MiniLM-L6-v2's products quantized, it is what took the
    least cosine to float32 on 192 SciFact passages from 0.989 to 0.995."""
    producer = {output: node for node in model.graph.node for output in node.output}

    def reads_activation(name: str, hops: int) -> bool:
        node = producer.get(name)
        if node is None or hops == 0:
            return False
        if node.op_type in _ACTIVATIONS:
            return True
        return node.op_type in _ELEMENTWISE and any(
            reads_activation(source, hops - 1) for source in node.input
        )

    return [
        node.name
        for node in model.graph.node
        if node.op_type in ("MatMul", "Gemm") and reads_activation(node.input[0], _ACTIVATION_HOPS)
    ]


def quantize(source: Path, target: Path) -> None:
    """``source``'s model with its matrix products in dynamic int8 (weights per channel)
    written to ``target``, but for the feed-forward down projections
    (``activation_products``), which stay float32: a third of the weights, and most of
    int8's error. Without VNNI, ONNX Runtime multiplies unsigned by signed bytes with an
    instruction (VPMADDUBSW) whose 16-bit sums can saturate; weights of 7 bits
    (``reduce_range``) keep them in range, as its documentation advises. Where VNNI is,
    7 bits cost next to nothing either: cosine to float32 on 128 SciFact passages
    0.9897 at worst and 0.9931 on average, against 0.9904 and 0.9945 (every product in
    int8)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(source)  # read once: the exclusions and the quantization
    kept = activation_products(model)
    root = logging.getLogger()
    was, root.disabled = root.disabled, True
    try:  # it suggests pre-processing at WARNING on the root logger, every time
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(
                model,
                target,
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=not vnni(),
                nodes_to_exclude=kept,
            )
    finally:
        root.disabled = was


class OnnxEncoder:
    """An exported model run by ONNX Runtime, called as the embedder calls
    ``SentenceTransformer.encode``. Each thread that encodes gets its own session with
    as many intra-op threads as torch has in that thread (the embedder's lanes set
    them), so two lanes encode side by side as their torch passes would."""

    def __init__(self, encoder: SentenceTransformer, model: bytes) -> None:
        self._tokenize = encoder.preprocess
        self._model = model
        self._local = threading.local()
        # A model ONNX Runtime cannot load fails here, at start. What it takes are the
        # tokenizer's tensors the export named (``export``).
        self._keys = [tensor.name for tensor in self.session().get_inputs()]

    def session(self) -> Any:
        """This thread's session (made on first use)."""
        found = getattr(self._local, "session", None)
        if found is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            options.inter_op_num_threads = 1
            # Pool threads that spin between operators take a core from the rest of the
            # pipeline (and from the other lane) for nothing.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            found = ort.InferenceSession(self._model, options, providers=["CPUExecutionProvider"])
            self._local.session = found
        return found

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The unnormalized float32 embeddings of ``texts`` in one pass."""
        features = self._tokenize(list(texts))
        feeds = {key: features[key].numpy().astype(np.int64) for key in self._keys}
        (output,) = self.session().run(["sentence_embedding"], feeds)
        return np.asarray(output, dtype=np.float32)

    def encode(
        self,
        sentences: list[str],
        batch_size: int = 32,
        normalize_embeddings: bool = True,
        convert_to_numpy: bool = True,
        show_progress_bar: bool = False,
    ) -> np.ndarray:
        """``sentences`` in batches of ``batch_size``, the longest first (as
        sentence-transformers batches: texts of a length share their padding)."""
        del convert_to_numpy, show_progress_bar  # always numpy, never a progress bar
        order = np.argsort([-len(text) for text in sentences], kind="stable")
        rows: list[np.ndarray] = [np.empty(0)] * len(sentences)
        for first in range(0, len(sentences), batch_size):
            taken = order[first : first + batch_size]
            for at, row in zip(taken, self.embed([sentences[i] for i in taken]), strict=True):
                rows[at] = row
        vectors = np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)
        return unit_rows(vectors) if normalize_embeddings and len(vectors) else vectors


def unit_rows(rows: np.ndarray) -> np.ndarray:
    """``rows`` scaled to unit length, as float32."""
    rows = np.asarray(rows, dtype=np.float32)
    norms = np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return np.asarray(rows / norms, dtype=np.float32)


def onnx_int8_encoder(encoder: SentenceTransformer, kept: Path | None = None) -> OnnxEncoder:
    """``encoder``'s chain through ONNX Runtime with its matrix products in int8.

    ``kept``: the file the quantized model is kept in between starts (``kept_file``
    names it by everything that shapes its bytes). A start that finds it loads it
    instead of exporting and quantizing again (4 s of every start with int8 documents
    or queries on a 2-core AMD EPYC); one it cannot load (cut short, damaged) is built
    again and written over. Writing it is best effort: a start that cannot only pays
    for the export again next time."""
    if kept is not None:
        try:
            return OnnxEncoder(encoder, kept.read_bytes())
        except FileNotFoundError:
            pass
        except Exception as exc:  # unreadable, or not a model ONNX Runtime loads
            log.warning("int8 model in %s not used (%s): exported again", kept, exc)
    with TemporaryDirectory(prefix="semantik-onnx-") as directory:
        exported, quantized = Path(directory, "fp32.onnx"), Path(directory, "int8.onnx")
        export(encoder, exported)
        quantize(exported, quantized)
        model = quantized.read_bytes()
    built = OnnxEncoder(encoder, model)
    if kept is not None:
        keep(kept, model)
    return built


#: The kept int8 models' file names begin so (then the model's name and a digest).
_INT8_PREFIX = "int8-"


def kept_file(directory: Path, name: str, identity: object) -> Path:
    """Where the int8 model of model ``name`` is kept under ``directory``: a file named
    by a digest of ``identity`` (the model's files; torch, ONNX and ONNX Runtime;
    whether the CPU has VNNI, which decides the weights' bits; this module's code, which
    decides the export and what is quantized), so that any change of these builds a
    new one."""
    recipe = {
        "model": identity,
        "versions": [torch.__version__, package_version("onnx"), package_version("onnxruntime")],
        "vnni": vnni(),
        "opset": OPSET,
        "code": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
    }
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    return directory / f"{_INT8_PREFIX}{_safe(name)}-{digest[:32]}.onnx"


def keep(path: Path, model: bytes) -> None:
    """Write ``model`` to ``path`` whole or not at all (a file beside it, renamed over
    it), and remove the files the same model was kept in under other digests: a new
    torch, ONNX Runtime or model version leaves no stale copy behind."""
    written = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with written.open("wb") as out:
            out.write(model)
            out.flush()
            os.fsync(out.fileno())
        written.replace(path)
        stem = path.name[: path.name.rindex("-") + 1]
        for stale in path.parent.glob(f"{stem}*.onnx"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as exc:
        with contextlib.suppress(OSError):
            written.unlink(missing_ok=True)
        log.info("int8 model not kept in %s: %s", path, exc)


def _safe(name: str) -> str:
    """``name`` with only the characters a file name may safely hold."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")[:64] or "model"


def package_version(package: str) -> str:
    """An installed package's version, or ``none``."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"
