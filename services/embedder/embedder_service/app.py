"""The embedder service: embed work, vector commands, query embeddings, clean-up.

Stateless: what it knows lives in the vector store and in JetStream's durable
consumers. It is the only writer of the store. Independent of ``__main__`` so that one
process can host it beside the search service on one embedded store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.subscription import Subscription
from prometheus_client import Gauge
from pydantic import BaseModel
from semantik_contracts import EventEnvelope
from semantik_contracts.events import CollectionDeleted, GenerationDropped
from semantik_contracts.search import EmbedQuery, QueryEmbeddings
from semantik_contracts.subjects import (
    VECTOR_COUNT_RPC,
    VECTORS,
    command_subject,
    embed_consumer_name,
    embed_query_subject,
    event_filter,
    model_slug,
)
from semantik_contracts.work import (
    ActivateGeneration,
    CountVectors,
    CreateGeneration,
    DeleteDocumentPoints,
    Done,
    DropGeneration,
    SampleChunks,
    SampledChunks,
    VectorCount,
    collection_alias,
    generation_name,
)
from semantik_runtime.bus import Bus
from semantik_runtime.consumer import follow_events
from semantik_runtime.errors import invalid, not_found
from semantik_runtime.vectors import GenerationNotFoundError

from .deadletter import follow_dead_letters
from .generations import read_generation_facts
from .model import EmbeddingModel
from .query_batcher import QueryBatcher
from .vector_writer import VectorWriter
from .worker import EmbedWorker

log = logging.getLogger(__name__)

#: 1 for each model served, labelled with what it encodes documents and queries in
#: (``SEMANTIK_EMBED_PRECISION``; the query pass is chosen at start, ``trace_queries``).
PRECISION = Gauge(
    "semantik_embed_precision",
    "What an embedder's model encodes documents and queries in (1 per model served)",
    ["model", "documents", "queries"],
)


class EmbedderService:
    """Embeds one model's work into ``store`` and answers the vector commands."""

    def __init__(
        self,
        bus: Bus,
        model: EmbeddingModel,
        *,
        writer: VectorWriter,
        worker: EmbedWorker,
        queries: QueryBatcher,
        orphan_sweep_seconds: float = 3600.0,
    ) -> None:
        self.bus = bus
        self.model = model
        self.slug = model_slug(model.name)
        self.writer = writer
        self.worker = worker
        self.queries = queries
        self.orphan_sweep_seconds = orphan_sweep_seconds
        self._tasks: list[asyncio.Task[None]] = []
        self._dead_letters: Subscription | None = None
        # Set by the caller's stop event or by close(), whichever comes first.
        self._stop = asyncio.Event()
        self._stop_relay: asyncio.Future[None] | None = None

    async def start(self, stop: asyncio.Event) -> None:
        self._stop_relay = asyncio.ensure_future(_relay_stop(stop, self._stop))
        PRECISION.labels(self.slug, self.model.precision, self.model.query_dtype).set(1)
        stop = self._stop
        await self.bus.ensure_streams()
        await self._serve_commands()
        await self.bus.serve(
            embed_query_subject(self.slug),
            EmbedQuery,
            self.embed_query,
            queue=embed_consumer_name(self.slug),
        )
        self._dead_letters = await follow_dead_letters(self.bus, self.slug)
        self._spawn(self.worker.run(stop))
        self._spawn(self.writer.optimize_quiet(stop))
        for event_type in ("CollectionDeleted", "GenerationDropped"):
            self._spawn(
                follow_events(
                    self.bus,
                    f"embedder-{event_type}",
                    event_filter(event_type=event_type),
                    self.on_collection_event,
                    stop,
                )
            )
        self._spawn(self._sweep_orphans_every(stop))
        await self.bus.nc.flush()  # subscriptions are live on the server once start returns

    def _spawn(self, coro: Awaitable[None]) -> None:
        self._tasks.append(asyncio.ensure_future(coro))

    async def close(self) -> None:
        """Stop consuming (held work is handed back) and release the writer thread."""
        if self._dead_letters is not None:
            with contextlib.suppress(Exception):
                await self._dead_letters.unsubscribe()
        self._stop.set()
        if self._stop_relay is not None:
            self._stop_relay.cancel()
        # The loops end on the stop event; give them a moment, then cancel the rest.
        if self._tasks:
            _, running = await asyncio.wait(self._tasks, timeout=5.0)
            for task in running:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self.queries.close()
        self.worker.close()
        self.writer.close()

    async def embed_query(self, request: EmbedQuery) -> QueryEmbeddings:
        if model_slug(request.model) != self.slug:
            raise invalid(f"this embedder serves {self.model.name}, not {request.model}")
        vectors = await self.queries.embed(request.texts)
        return QueryEmbeddings(
            model=self.model.name, dimension=self.model.dimension, vectors=vectors.tolist()
        )

    async def on_collection_event(self, envelope: EventEnvelope) -> None:
        """A deleted collection loses every generation; a dropped generation (a
        reindex's old one after its grace period, or a failed one's staging) goes."""
        event = envelope.event
        if isinstance(event, CollectionDeleted):
            dropped = await self.writer.drop_collection(event.collection_id)
            log.info("collection %s deleted: dropped %s", event.collection_id, dropped or "nothing")
        elif isinstance(event, GenerationDropped):
            name = generation_name(event.collection_id, event.generation)
            await self.writer.drop_generation(name)
            log.info("generation %s dropped", name)

    async def sweep_orphans(self) -> list[str]:
        """Drop the store's generations that the event log no longer refers to."""
        # Listed before the log is read: a generation created meanwhile has its
        # GenerationCreated in the log already (work for it follows that event).
        names = await asyncio.to_thread(self.writer.store.generations)
        facts = await read_generation_facts(self.bus)
        orphans = facts.orphans(names)
        for name in orphans:
            await self.writer.drop_generation(name)
            log.warning("dropped orphan generation %s", name)
        return orphans

    async def _sweep_orphans_every(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep_orphans()
            except Exception:
                log.warning("sweeping orphan generations failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.orphan_sweep_seconds)

    async def _serve_commands(self) -> None:
        writer = self.writer

        async def create(cmd: CreateGeneration) -> Done:
            await writer.create_generation(
                generation_name(cmd.collection_id, cmd.generation), cmd.dimension
            )
            return Done()

        async def drop(cmd: DropGeneration) -> Done:
            await writer.drop_generation(generation_name(cmd.collection_id, cmd.generation))
            return Done()

        async def activate(cmd: ActivateGeneration) -> Done:
            name = generation_name(cmd.collection_id, cmd.generation)
            try:
                # Its index is built before search switches to it, not after.
                await writer.optimize_now(name)
                await writer.set_alias(collection_alias(cmd.collection_id), name)
            except GenerationNotFoundError as exc:
                raise not_found("vector generation", name) from exc
            return Done()

        async def delete_points(cmd: DeleteDocumentPoints) -> Done:
            name = generation_name(cmd.collection_id, cmd.generation)
            await writer.delete_documents(name, [str(d) for d in cmd.document_ids])
            return Done()

        async def count(query: CountVectors) -> VectorCount:
            name = generation_name(query.collection_id, query.generation)
            return VectorCount(count=await writer.count(name))

        async def sample(query: SampleChunks) -> SampledChunks:
            name = generation_name(query.collection_id, query.generation)
            hits = await asyncio.to_thread(writer.store.sample, name, query.limit)
            return SampledChunks(texts=[str(h.payload.get("text", "")) for h in hits])

        table: list[tuple[str, type[BaseModel], Callable[[Any], Awaitable[BaseModel]]]] = [
            (command_subject(VECTORS, "CreateGeneration"), CreateGeneration, create),
            (command_subject(VECTORS, "DropGeneration"), DropGeneration, drop),
            (command_subject(VECTORS, "ActivateGeneration"), ActivateGeneration, activate),
            (command_subject(VECTORS, "DeleteDocumentPoints"), DeleteDocumentPoints, delete_points),
            (VECTOR_COUNT_RPC, CountVectors, count),
            (command_subject(VECTORS, "SampleChunks"), SampleChunks, sample),
        ]
        for subject, request_type, handler in table:
            await self.bus.serve(subject, request_type, handler, queue=VECTORS)


async def _relay_stop(outer: asyncio.Event, inner: asyncio.Event) -> None:
    await outer.wait()
    inner.set()
