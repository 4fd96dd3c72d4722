"""Reranking with a cross-encoder loaded from a local directory (``SEMANTIK_RERANKER_PATH``).

A cross-encoder reads the query and a passage together, so its score is comparable
across collections whatever model each collection was embedded with: that is what
gives one ordering when federated collections use different models. None ships with
the install and nothing is downloaded; without one, search keeps the fused order.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

# huggingface_hub reads this once, when it is first imported: set it before that.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

log = logging.getLogger(__name__)

#: How many fused candidates the cross-encoder reorders (at least the limit asked for).
RERANK_CANDIDATES = 50


class Reranker:
    """A sentence-transformers ``CrossEncoder`` scoring (query, passage) pairs."""

    def __init__(self, path: Path, device: str = "cpu") -> None:
        from sentence_transformers import CrossEncoder
        from transformers.utils import logging as transformers_logging

        # No bar of its weights drawn into the log.
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} holds no cross-encoder (config.json is missing)")
        self.path = path
        self._model = CrossEncoder(str(path), device=device, local_files_only=True)

    def scores(self, query: str, passages: list[str]) -> list[float]:
        """One relevance score per passage, higher is better (blocking: run in a thread)."""
        if not passages:
            return []
        pairs = [(query, passage) for passage in passages]
        found = self._model.predict(pairs, show_progress_bar=False)
        return [float(score) for score in found]


def load_reranker(path: Path | None, device: str = "cpu") -> tuple[Reranker | None, str | None]:
    """The reranker at ``path``, or ``None`` and why not (``None`` when none is configured)."""
    if path is None:
        return None, None
    try:
        return Reranker(path, device), None
    except Exception as error:  # any failure to load leaves search working without it
        log.error("cannot load the reranker at %s", path, exc_info=error)
        return None, f"the reranker at {path} could not be loaded ({type(error).__name__})"
