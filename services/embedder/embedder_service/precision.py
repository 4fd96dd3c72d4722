"""What the documents' pass multiplies in (``SEMANTIK_EMBED_PRECISION``): float32,
bfloat16 (torch's autocast: matrix products in bfloat16), or dynamic int8.

Layer norms, attention's softmax sums and pooling stay in float32, and every vector is
normalized in float32. The float32 encoder stays for the query trace and for the cosine
each pass is checked against; the int8 pass is a copy of it, the bfloat16 pass shares
its weights.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, get_args

import torch
from sentence_transformers import SentenceTransformer

#: What ``SEMANTIK_EMBED_PRECISION`` may say; ``auto`` lets the model choose at start.
Precision = Literal["fp32", "bf16", "int8", "auto"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


#: What ``SEMANTIK_QUERY_PRECISION`` may say (``EmbeddingModel.use_query_precision``).
QueryPrecision = Literal["auto", "int8"]
QUERY_PRECISIONS: tuple[str, ...] = get_args(QueryPrecision)


def parse_precision(value: object, allowed: tuple[str, ...] = PRECISIONS) -> str:
    """``value`` as one of ``allowed`` (case and spaces ignored), else a ValueError
    that names the allowed values, so a typo stops the embedder at start."""
    text = str(value).strip().lower()
    if text not in allowed:
        raise ValueError(f"{value!r} is not a precision; use one of {', '.join(allowed)}")
    return text


def parse_query_precision(value: object) -> str:
    """``parse_precision`` for queries (``QUERY_PRECISIONS``)."""
    return parse_precision(value, QUERY_PRECISIONS)


class _BFloat16Linear(torch.nn.Module):
    """A linear layer that multiplies in bfloat16 and answers in its input's dtype."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(
            linear.weight.detach().to(torch.bfloat16), requires_grad=False
        )
        self.bias = (
            None
            if linear.bias is None
            else torch.nn.Parameter(linear.bias.detach().to(torch.bfloat16), requires_grad=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        product = torch.nn.functional.linear(x.to(torch.bfloat16), self.weight, self.bias)
        return product.to(x.dtype)


Replaced = list[tuple[torch.nn.Module, str, torch.nn.Module]]


def _replace_linears(module: torch.nn.Module, replaced: Replaced) -> None:
    """Every ``nn.Linear`` inside ``module`` replaced by a ``_BFloat16Linear`` copy of it;
    each replacement is noted in ``replaced`` as it is made (to be undone)."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(parent, name, _BFloat16Linear(child))
                replaced.append((parent, name, child))


@contextmanager
def bfloat16_linears(module: torch.nn.Module) -> Iterator[None]:
    """Every ``nn.Linear`` inside ``module`` replaced by a ``_BFloat16Linear`` copy of it
    for the time of the block (to trace it); the originals are back afterwards."""
    replaced: Replaced = []
    try:
        _replace_linears(module, replaced)
        yield
    finally:
        for parent, name, child in reversed(replaced):
            setattr(parent, name, child)


class BFloat16Pass:
    """Documents through the float32 encoder under torch's CPU autocast to bfloat16.

    Autocast runs the matrix products (the linear layers and attention) in bfloat16 and
    keeps what loses precision (layer norms, softmax's sums) in float32, so pooling and
    normalization see float32. Where bfloat16 is native this took 2.0-2.3x the chunks/s
    of bfloat16 linear layers alone (attention, GELU and layer norms were half a
    256-token chunk's time in float32), at the same least cosine to float32 (0.99997 on
    1,600 SciFact and NFCorpus passages). The float32 weights are shared, not copied:
    autocast casts them once per call (its cache lives as long as the call's context).
    """

    def __init__(self, encoder: SentenceTransformer) -> None:
        self.encoder = encoder

    def encode(self, inputs: list[str], /, **options: Any) -> Any:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.encoder.encode(inputs, **options)


def int8_encoder(encoder: SentenceTransformer) -> SentenceTransformer:
    """A copy of ``encoder`` whose linear layers multiply in int8: torch's dynamic
    quantization, each weight row with its own scale (per channel) and each activation
    quantized as it comes. Per channel because one scale per matrix lost too much:
    cosine to float32 on 200 SciFact passages min 0.881, mean 0.923 per tensor against
    0.974 and 0.983 per channel (README, "Encoder precision")."""
    with warnings.catch_warnings():
        # torch 2.13 marks torch.ao.quantization deprecated in favour of torchao, a
        # dependency this one call does not justify; the API still works as documented.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantized = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            encoder,
            {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
            dtype=torch.qint8,
            inplace=False,
        )
    assert isinstance(quantized, SentenceTransformer)
    return quantized.eval()
