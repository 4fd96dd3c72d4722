"""What the documents' pass multiplies in (``SEMANTIK_EMBED_PRECISION``): float32,
bfloat16 (torch's autocast: matrix products in bfloat16), or dynamic int8.

Layer norms, attention's softmax sums and pooling stay in float32, and every vector is
normalized in float32. The float32 encoder stays for the query trace and for the cosine
each pass is checked against; the int8 pass is a copy of it, the bfloat16 pass shares
its weights.
"""

from __future__ import annotations

import functools
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


#: oneDNN's linear over a weight packed once (``torch.ops.mkldnn``), as TorchScript: the
#: tracer cannot record the op's empty ``Scalar?[]`` argument, a script function can.
_PACKED_LINEAR_SOURCE = """
def packed_linear(x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    scalars: List[Optional[number]] = []
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", scalars, "")
"""
#: The rows (tokens) a query pass multiplies at a time, for which oneDNN lays the
#: weight out: a hint only, any count of rows gives the same products.
PACKED_ROWS = 16


@functools.cache
def _packed_linear() -> Any:
    """``_PACKED_LINEAR_SOURCE``'s function, compiled once."""
    return torch.jit.CompilationUnit(_PACKED_LINEAR_SOURCE).packed_linear


class _PackedBFloat16Linear(torch.nn.Module):
    """``_BFloat16Linear`` with its weight laid out for oneDNN once, when it is made.

    ``F.linear`` in bfloat16 lays the weight out again on every call; for a query's few
    rows that was most of the product's time (one thread of an AVX512-BF16 Xeon, 15
    rows: 384x384 57 against 33 us, 384->1536 134 against 71 us, 1536->384 133 against
    40 us, the same products to the last bit), and all-MiniLM-L6-v2's query trace went
    from p50 7.63 to 5.54 ms over 300 SciFact queries."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        weight = linear.weight.detach().to(torch.bfloat16)
        self.register_buffer("packed", torch.ops.mkldnn._reorder_linear_weight(weight, PACKED_ROWS))
        bias = None if linear.bias is None else linear.bias.detach().to(torch.bfloat16)
        self.register_buffer("bias", bias)
        self.linear = _packed_linear()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        product = self.linear(x.to(torch.bfloat16), self.packed, self.bias)
        return product.to(x.dtype)  # type: ignore[no-any-return]


#: A packed linear layer whose float32 output goes through exact (erf) GELU, as BERT's
#: feed-forward layers do, and the same with GELU inside oneDNN's product (in bfloat16,
#: before the cast back): one operator fewer for each layer of the model.
_LINEAR_GELU = """
graph(%x, %w, %b, %none, %scalars, %algorithm, %dtype, %non_blocking, %copy, %format):
  %product = mkldnn::_linear_pointwise(%x, %w, %b, %none, %scalars, %algorithm)
  %wide = aten::to(%product, %dtype, %non_blocking, %copy, %format)
  %out = aten::gelu(%wide, %none)
  return (%out)
"""
_LINEAR_WITH_GELU = """
graph(%x, %w, %b, %none, %scalars, %algorithm, %dtype, %non_blocking, %copy, %format):
  %gelu : str = prim::Constant[value="gelu"]()
  %product = mkldnn::_linear_pointwise(%x, %w, %b, %gelu, %scalars, %none)
  %out = aten::to(%product, %dtype, %non_blocking, %copy, %format)
  return (%out)
"""


def fuse_gelu(traced: Any) -> None:
    """Fold each exact GELU after a packed linear layer into its oneDNN product, in the
    frozen ``traced`` module's graph (one that matches nothing is left as it is)."""
    torch._C._jit_pass_custom_pattern_based_rewrite_graph(
        _LINEAR_GELU, _LINEAR_WITH_GELU, traced.graph
    )


Replaced = list[tuple[torch.nn.Module, str, torch.nn.Module]]


def _replace_linears(module: torch.nn.Module, replaced: Replaced, packed: bool) -> None:
    """Every ``nn.Linear`` inside ``module`` replaced by a bfloat16 copy of it (its weight
    packed for oneDNN if ``packed``); each replacement is noted in ``replaced`` as it is
    made (to be undone)."""
    kind = _PackedBFloat16Linear if packed else _BFloat16Linear
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(parent, name, kind(child))
                replaced.append((parent, name, child))


@contextmanager
def bfloat16_linears(module: torch.nn.Module, *, packed: bool = False) -> Iterator[None]:
    """Every ``nn.Linear`` inside ``module`` replaced by a bfloat16 copy of it (a
    ``_PackedBFloat16Linear`` if ``packed``, else a ``_BFloat16Linear``) for the time of
    the block (to trace it); the originals are back afterwards."""
    replaced: Replaced = []
    try:
        _replace_linears(module, replaced, packed)
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
