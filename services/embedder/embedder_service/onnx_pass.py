"""The documents' pass in dynamic int8 (``SEMANTIK_EMBED_PRECISION=int8``) through ONNX
Runtime, on a CPU.

The model's whole module chain (transformer, pooling, whatever its directory lists) is
exported with torch's TorchScript exporter, with eager attention so that ONNX Runtime
fuses each layer's attention, layer norms and GELU into single kernels; ``quantize``
then evens out each product's input channels (``smooth``) and turns the products into
int8 ones (ONNX Runtime's dynamic quantization: each weight column with its own scale,
each batch's activations scaled together as they come), but for the feed-forward down
projections. The result is kept in the machine's cache (``cache_directory``) and in
the data dir (``kept_file``): a later start, of any data dir, loads it.
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
from collections.abc import Iterable, Mapping, Sequence
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


#: Passages the inputs of the products are measured on before they are smoothed
#: (``smooth``): prose of several fields and lengths, a list, code, numbers, other
#: scripts and a lone word. Which of a model's channels run large is the model's own
#: (all-MiniLM-L6-v2's first feed-forward input: one channel at 28 where the median is
#: 2), so a few dozen sentences find them; the passages a collection holds need not be
#: among them.
CALIBRATION = [
    "Protein misfolding in the cold: chaperones bind exposed hydrophobic residues and "
    "hold the chain until it can refold, at a cost in ATP that rises as it cools.",
    "A randomized trial of 1,204 adults found no effect of vitamin D on fracture rates "
    "over five years (hazard ratio 0.98, 95 % CI 0.82 to 1.16).",
    "The tenant shall give the landlord written notice of any defect in the premises "
    "within fourteen days of its discovery, failing which the deposit may be withheld.",
    "Preheat the oven to 200 degrees. Whisk the eggs with the sugar until pale, fold in "
    "the flour and bake for twenty minutes, until a skewer comes out clean.",
    "def merge(left, right):\n    out = []\n    while left and right:\n"
    "        out.append((left if left[0] < right[0] else right).pop(0))\n"
    "    return out + left + right",
    "Quarterly revenue rose 12 % to $4.3 billion, driven by cloud subscriptions, while "
    "operating margin narrowed to 18.2 % on higher data-centre depreciation.",
    "The river floods each spring when snowmelt from the mountains swells its tributaries; "
    "the levees built in 1952 were raised again after the 1997 flood.",
    "Symptoms: fever, dry cough, fatigue. Treatment: rest, fluids, paracetamol up to four "
    "times a day. Seek care if breathing becomes difficult.",
    "In 1887 the committee voted to extend the railway to the coast, over the objections "
    "of the canal company, whose traffic fell by half within a decade.",
    "ünïcödé — 東京の研究所 measured the galaxy's rotation curve; Der Vertrag wurde "
    "am 3. Mai unterzeichnet. Le comité a rejeté la proposition.",
    "ERROR 2026-03-14T09:12:44Z worker-3 timeout after 30000 ms connecting to "
    "db.internal:5432 (attempt 4 of 5); retrying with backoff",
    "Mutations in BRCA1 and BRCA2 raise the lifetime risk of breast and ovarian cancer; "
    "carriers are offered screening from an earlier age. " * 6,
    "The committee reviewed the proposal, the budget and the schedule, and asked for a "
    "revised plan covering staffing, risks and the migration of the existing records. " * 5,
    "galaxy",
    "what do proteins fold into?",
    "Item, quantity, price: bolts M6 x 20, 400, 0.12; washers M6, 400, 0.03; nuts M6, "
    "400, 0.05; brackets, 50, 2.40",
]
#: How far a product's input channels are evened out (``smooth``): SmoothQuant's alpha,
#: the share of each channel's range moved into the weights. On 352 SciFact and NFCorpus
#: passages (an AVX2 CPU, 7-bit weights) the least cosine to float32 was 0.9974 at 0.3,
#: 0.9977 at 0.5 and 0.9975 at 0.7, against 0.9947 unsmoothed.
SMOOTHING = 0.5


def smooth(model: onnx.ModelProto, inputs: list[dict[str, np.ndarray]], skip: set[str]) -> int:
    """Even out the input channels of ``model``'s matrix products by a constant weight
    (SmoothQuant, Xiao et al. 2023), in place, and return how many were smoothed.

    Dynamic int8 scales a product's whole input with one factor, so a channel that runs
    ten times the others' range leaves them few of the 256 steps: all-MiniLM-L6-v2's
    layer norms put a few channels at 10-28 where most stay within 2-3. Each product
    ``x @ W`` with a constant weight (not in ``skip``, not shared) becomes
    ``(x / s) @ (s * W)``, the same product in exact arithmetic, with
    ``s = max|x|^a / max|W|^(1-a)`` per input channel (``SMOOTHING``), ``max|x|`` measured
    by running the float32 model on ``inputs``: the input's range is evened out and the
    weights, quantized each column on its own, take the rest. The division is one
    elementwise ``Mul`` per input tensor, before its first product: products that read
    the same tensor (a layer's query, key and value) share it, with ``max|W|`` taken
    over all their weights. On 352 SciFact and NFCorpus passages (an
    AVX2 CPU, 7-bit weights) the least cosine to float32 went from 0.9947 to 0.9977, the
    mean from 0.9970 to 0.9987, at the same chunks/s (a Mul for each product). Sharing
    it costs a little of that and saves the tensor's quantization twice a layer: on an
    AVX512-VNNI EPYC, 7-bit weights, least / mean 0.9977 / 0.9986 against 0.9981 /
    0.9988 (alpha 0.4 or 0.6 shared: 0.9974 / 0.9984, 0.9976 / 0.9985), 34.0 against
    33.0 chunks/s (8-bit weights, median of eight rounds in turns)."""
    import onnx
    from onnx import numpy_helper

    weights = {tensor.name: tensor for tensor in model.graph.initializer}
    readers: dict[str, int] = {}
    for node in model.graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    # The products to smooth, by the input they read: a layer's query, key and value
    # read one tensor, and share one factor, so one Mul, and after it one quantization
    # of its output (ONNX Runtime quantizes a tensor once for all its readers).
    groups: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        if (
            node.op_type == "MatMul"
            and node.name not in skip
            and node.input[1] in weights
            and readers[node.input[1]] == 1
            and len(weights[node.input[1]].dims) == 2
        ):
            groups.setdefault(node.input[0], []).append(node)
    if not groups:
        return 0
    peaks = input_peaks(model, sorted(groups), inputs)
    position = {id(node): at for at, node in enumerate(model.graph.node)}
    inserted: list[tuple[int, onnx.NodeProto]] = []
    for source, group in groups.items():
        found = [numpy_helper.to_array(weights[node.input[1]]).astype(np.float32) for node in group]
        x_peak = np.maximum(peaks[source], 1e-5)
        # The weight's range per input channel over every product that reads it.
        w_peak = np.maximum(np.max([np.abs(w).max(axis=1) for w in found], axis=0), 1e-5)
        scale = np.maximum(x_peak**SMOOTHING / w_peak ** (1 - SMOOTHING), 1e-5)
        for node, weight in zip(group, found, strict=True):
            weights[node.input[1]].CopyFrom(
                numpy_helper.from_array((weight * scale[:, None]).astype(np.float32), node.input[1])
            )
        divisor = f"{source}/smoothing"
        model.graph.initializer.append(
            numpy_helper.from_array((1.0 / scale).astype(np.float32), divisor)
        )
        smoothed = f"{source}/smoothed"
        mul = onnx.helper.make_node("Mul", [source, divisor], [smoothed], f"{divisor}/mul")
        for node in group:
            node.input[0] = smoothed
        inserted.append((min(position[id(node)] for node in group), mul))
    for at, mul in sorted(inserted, key=lambda pair: pair[0], reverse=True):
        model.graph.node.insert(at, mul)  # each just before its first reader: still in order
    return sum(len(group) for group in groups.values())


def input_peaks(
    model: onnx.ModelProto, names: list[str], inputs: list[dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """The largest magnitude of each of ``model``'s tensors ``names`` per last-axis
    channel, over its float32 runs on ``inputs``: the tensors are made outputs for one
    ONNX Runtime session, then taken out again (no copy of the model's weights)."""
    import onnx
    import onnxruntime as ort

    known = {output.name for output in model.graph.output}
    added = [name for name in names if name not in known]
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(name) for name in added)
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
    finally:
        for _ in added:
            model.graph.output.pop()
    peaks: dict[str, np.ndarray] = {}
    for batch in inputs:
        for name, value in zip(names, session.run(names, batch), strict=True):
            peak = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
            peaks[name] = np.maximum(peaks[name], peak) if name in peaks else peak
    return peaks


def calibration_inputs(encoder: SentenceTransformer) -> list[dict[str, np.ndarray]]:
    """``CALIBRATION`` as ``encoder``'s tokenizer tensors, a few passages a batch."""
    batches = []
    for first in range(0, len(CALIBRATION), 4):
        batches.append(feeds(encoder.preprocess(CALIBRATION[first : first + 4])))
    return batches


def feeds(features: Mapping[str, Any], keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """A tokenizer's tensors (``keys``, else every tensor it made) as ONNX Runtime's
    int64 inputs."""
    names = (
        keys
        if keys is not None
        else [k for k, v in features.items() if isinstance(v, torch.Tensor)]
    )
    return {key: features[key].numpy().astype(np.int64) for key in names}


def quantize(source: Path, target: Path, inputs: list[dict[str, np.ndarray]]) -> None:
    """``source``'s model with its matrix products in dynamic int8 (weights per channel)
    written to ``target``, but for the feed-forward down projections
    (``activation_products``), which stay float32: a third of the weights, and most of
    int8's error. The products' inputs are smoothed first (``smooth``, measured on
    ``inputs``, the tokenized ``CALIBRATION``). Only products are quantized: ONNX
    Runtime would also store the embedding tables (``Gather``) in int8 with one scale
    each, which cost the least cosine to float32 0.001 for no speed. Without VNNI, ONNX
    Runtime multiplies unsigned by signed bytes with an instruction (VPMADDUBSW) whose
    16-bit sums can saturate; weights of 7 bits (``reduce_range``) keep them in range,
    as its documentation advises. Where VNNI is, 7 bits cost next to nothing either:
    cosine to float32 on 128 SciFact passages 0.9897 at worst and 0.9931 on average,
    against 0.9904 and 0.9945 (every product in int8, unsmoothed)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(source)  # read once: the exclusions, the smoothing, the quantization
    kept = activation_products(model)
    smooth(model, inputs, set(kept))
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
                op_types_to_quantize=["MatMul"],
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
        inputs = feeds(self._tokenize(list(texts)), self._keys)
        (output,) = self.session().run(["sentence_embedding"], inputs)
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


def onnx_int8_encoder(encoder: SentenceTransformer, kept: Sequence[Path] = ()) -> OnnxEncoder:
    """``encoder``'s chain through ONNX Runtime with its matrix products in int8.

    ``kept``: the files the quantized model is kept in between starts, the first looked
    at first (``kept_file`` names each by everything that shapes its bytes): the
    machine's cache (``cache_directory``), which a new data dir's first start finds,
    and the data dir's own, which goes where the data dir goes (a volume that outlives
    a container's home). A start that finds one loads it instead of exporting,
    smoothing and quantizing again (5-8 s of a first start on a 2-core AMD EPYC), and
    writes it where it is missing; one it cannot load (cut short, damaged) is passed
    over, said, and written over. Writing is best effort: a start that cannot only
    pays for the export again next time."""
    built: OnnxEncoder | None = None
    missing: list[Path] = []
    for path in kept:
        if built is not None:
            if not path.is_file():
                missing.append(path)
            continue
        try:
            built = OnnxEncoder(encoder, path.read_bytes())
        except FileNotFoundError:
            missing.append(path)
        except Exception as exc:  # unreadable, or not a model ONNX Runtime loads
            log.warning("int8 model in %s not used (%s)", path, exc)
            missing.append(path)
    if built is None:
        with TemporaryDirectory(prefix="semantik-onnx-") as directory:
            exported, quantized = Path(directory, "fp32.onnx"), Path(directory, "int8.onnx")
            export(encoder, exported)
            quantize(exported, quantized, calibration_inputs(encoder))
            built = OnnxEncoder(encoder, quantized.read_bytes())
    for path in missing:
        keep(path, built._model)
    return built


def cache_directory() -> Path | None:
    """The machine's cache of built model passes, shared by every data dir of this user
    (a test's, a tool's, an eval's): ``SEMANTIK_CACHE_DIR`` (set but empty: none), else
    ``$XDG_CACHE_HOME/semantik``, else ``~/.cache/semantik``; None where there is no home."""
    configured = os.environ.get("SEMANTIK_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if base:
        return Path(base) / "semantik"
    try:
        return Path.home() / ".cache" / "semantik"
    except RuntimeError:  # no HOME and no passwd entry (some containers)
        return None


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
    torch, ONNX Runtime or model version leaves no stale copy behind. A directory made
    for it is the owner's alone (0700): what lies there is loaded as a model."""
    written = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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
