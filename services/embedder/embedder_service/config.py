"""Settings of the embedder service."""

from __future__ import annotations

from pydantic import Field, field_validator
from semantik_contracts.search import DEFAULT_MODEL
from semantik_runtime.settings import ServiceSettings

from .precision import Precision, QueryPrecision, parse_precision, parse_query_precision


class EmbedderSettings(ServiceSettings):
    model_name: str = Field(DEFAULT_MODEL.name, validation_alias="SEMANTIK_EMBED_MODEL")
    device: str | None = Field(
        None, validation_alias="SEMANTIK_EMBED_DEVICE", description="cuda, mps, cpu; auto if unset"
    )
    batch_chunks: int | None = Field(
        None,
        validation_alias="SEMANTIK_EMBED_BATCH",
        gt=0,
        description="Chunks per encode call; 4 model batches (128 on CPU, 512 on CUDA) if unset",
    )
    lanes: int | None = Field(
        None,
        validation_alias="SEMANTIK_EMBED_LANES",
        gt=0,
        description=(
            "Batches encoded at once; on a CPU one per core with one torch thread each "
            "(the cores shared out between lanes), on a GPU 1, if unset"
        ),
    )
    precision: Precision = Field(
        "auto",
        validation_alias="SEMANTIK_EMBED_PRECISION",
        description=(
            "What documents are encoded in on a CPU: fp32, bf16 (linear layers in "
            "bfloat16), int8 (dynamic int8 linear layers) or auto (bf16 where the CPU "
            "multiplies it natively and it is close to fp32 and faster, else fp32)"
        ),
    )
    query_precision: QueryPrecision = Field(
        "auto",
        validation_alias="SEMANTIK_QUERY_PRECISION",
        description=(
            "What queries are encoded in on a CPU: auto (float32, or bfloat16 where the "
            "CPU multiplies it natively and it is close to float32 and faster; the "
            "documents' int8 model where they encode in int8 and it is close to float32 "
            "and faster) or int8 (through ONNX Runtime, whatever the race)"
        ),
    )
    optimize_after_seconds: float = Field(
        10.0,
        validation_alias="SEMANTIK_OPTIMIZE_AFTER_SECONDS",
        gt=0,
        description="Quiet time after a bulk write before a generation's index is built",
    )
    ack_wait_seconds: float = Field(
        30.0,
        validation_alias="SEMANTIK_EMBED_ACK_WAIT_SECONDS",
        ge=5,
        description=(
            "How long work held by an embedder that died waits before another gets it; "
            "a live embedder extends it every quarter of this while it works"
        ),
    )
    orphan_sweep_seconds: float = Field(
        3600.0,
        validation_alias="SEMANTIK_ORPHAN_SWEEP_SECONDS",
        gt=0,
        description="How often generations that no collection refers to are dropped",
    )

    @field_validator("precision", mode="before")
    @classmethod
    def _known_precision(cls, value: object) -> str:
        return parse_precision(value)

    @field_validator("query_precision", mode="before")
    @classmethod
    def _known_query_precision(cls, value: object) -> str:
        return parse_query_precision(value)
