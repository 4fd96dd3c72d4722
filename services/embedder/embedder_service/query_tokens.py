"""A query's features straight from the tokenizer's Rust core.

sentence-transformers' ``preprocess`` wraps the tokenizer in Python that a query pays
for on every search: it merges per-modality settings, calls transformers' tokenizer
(which sets truncation and padding on the shared Rust tokenizer again each call) and
builds the tensors. For one SciFact query that took 0.23 ms against 0.09 ms for the
``tokenizers`` core called directly, on the same thread. The query pass calls a
private copy of that core, set once to the model's truncation and padding, and only
where it gives the very features ``preprocess`` gives (``query_tokens`` checks them);
documents keep ``preprocess``, whose cost is nothing next to a batch's encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer

#: The model input each field of a ``tokenizers.Encoding`` is.
FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}

#: Texts the direct features are checked with: a long one (truncation), one padded in a
#: batch, whitespace, accents, scripts without spaces, an emoji and a lone word.
CHECKS = [
    ["what do proteins fold into?"],
    ["  Ünïcödé  naïve CAFÉ\tand\nnewlines  ", "東京の研究所 🚀", "galaxy"],
    ["a long passage about the rotation curve of a galaxy, measured again " * 60],
]

Features = Callable[[Sequence[str]], dict[str, Any]]


class QueryTokens:
    """Texts to the model's inputs (``keys``) through a ``tokenizers.Tokenizer``."""

    def __init__(self, core: Tokenizer, keys: Sequence[str]) -> None:
        self.core = core
        self.fields = [(key, FIELDS[key]) for key in keys]

    def __call__(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        if len(texts) == 1:
            encodings = [self.core.encode(texts[0])]
        else:
            encodings = self.core.encode_batch(list(texts))
        return {
            key: torch.tensor([getattr(encoding, field) for encoding in encodings])
            for key, field in self.fields
        }


def query_tokens(
    encoder: SentenceTransformer, keys: Sequence[str], features: Features
) -> QueryTokens | None:
    """The direct tokenizer of ``encoder``'s first module for ``keys``, if it has a
    ``tokenizers`` core and gives ``features``' own inputs for every text of ``CHECKS``;
    else None (the query pass keeps ``features``)."""
    tokenizer = getattr(encoder[0], "tokenizer", None)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if not isinstance(backend, Tokenizer) or any(key not in FIELDS for key in keys):
        return None
    core = Tokenizer.from_str(backend.to_str())  # a copy: other threads set the original
    core.enable_truncation(max_length=int(encoder.get_max_seq_length() or 512))
    core.enable_padding(
        pad_id=int(tokenizer.pad_token_id or 0),  # type: ignore[union-attr]
        pad_type_id=int(getattr(tokenizer, "pad_token_type_id", 0) or 0),
        pad_token=str(tokenizer.pad_token),  # type: ignore[union-attr]
    )
    direct = QueryTokens(core, keys)
    for texts in CHECKS:
        want, got = features(texts), direct(texts)
        if not all(torch.equal(got[key], want[key].cpu()) for key in keys):
            return None
    return direct
