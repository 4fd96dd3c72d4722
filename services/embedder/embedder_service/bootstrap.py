"""The embedder's composition root (cosmicpython's ``bootstrap``): the vector writer, the
embedding pipeline and the query batcher are built here and handed to the service.
``__main__``, the embedded vector host and the tests all build the service here."""

from __future__ import annotations

from semantik_runtime.bus import Bus
from semantik_runtime.vectors import VectorStore

from .app import EmbedderService
from .model import EmbeddingModel
from .query_batcher import QueryBatcher
from .vector_writer import VectorWriter
from .worker import EmbedWorker


def build_embedder_service(
    bus: Bus,
    store: VectorStore,
    model: EmbeddingModel,
    *,
    batch_chunks: int | None = None,
    lanes: int | None = None,
    optimize_after: float = 10.0,
    ack_wait: float = 30.0,
    max_deliver: int = 5,
    orphan_sweep_seconds: float = 3600.0,
) -> EmbedderService:
    writer = VectorWriter(store, optimize_after=optimize_after)
    worker = EmbedWorker(
        bus,
        writer,
        model,
        # Several of the model's own batches per call: fewer, larger writes, and
        # length-sorting within a call wastes less on padding.
        batch_chunks=batch_chunks or 4 * model.batch_size,
        ack_wait=ack_wait,
        max_deliver=max_deliver,
        lanes=lanes,
    )
    return EmbedderService(
        bus,
        model,
        writer=writer,
        worker=worker,
        queries=QueryBatcher(model),
        orphan_sweep_seconds=orphan_sweep_seconds,
    )
