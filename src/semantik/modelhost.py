"""Every model's embedder inside the vector host (the embedded default, SPEC §5).

One process owns the Qdrant Edge shards, so an embedder for another model cannot run
beside it: the vector host starts one itself when a collection's generation uses an
installed model it does not serve yet (a collection created with it, or a reindex
that changes model). Past generations are read again from the log at each start, so
a restart serves the same models. Deployments (``QDRANT_URL``) run one embedder
process per model instead, scaled on its consumer's lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
from embedder_service.app import EmbedderService
from embedder_service.model import EmbeddingModel, load_model
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import api
from pydantic import ValidationError
from semantik_contracts import EventEnvelope
from semantik_contracts.events import GenerationCreated
from semantik_contracts.subjects import EVENTS_STREAM, event_filter, model_slug
from semantik_runtime.bus import Bus
from semantik_runtime.errors import CommandError
from semantik_runtime.nats_credentials import NatsCredentials

log = logging.getLogger(__name__)

Embedder = Callable[[Bus, EmbeddingModel], EmbedderService]


class ModelHost:
    """The first model's embedder at once, the others as generations ask for them."""

    def __init__(
        self,
        nats_url: str,
        first: EmbedderService,
        embedder: Embedder,
        *,
        device: str | None,
        models_dir: Path | None,
        precision: str = "fp32",
        query_precision: str = "auto",
        credentials: NatsCredentials | None = None,
    ) -> None:
        self.nats_url = nats_url
        #: The NATS user of this process: every model's embedder connects as it.
        self.credentials = credentials
        self.embedder = embedder
        self.device = device
        self.models_dir = models_dir
        #: What the documents of every model served here are encoded in (the setting).
        self.precision = precision
        #: What their queries are encoded in (``SEMANTIK_QUERY_PRECISION``).
        self.query_precision = query_precision
        self.services: dict[str, EmbedderService] = {first.slug: first}
        self.buses: list[Bus] = []
        self._follow: asyncio.Task[None] | None = None

    async def start(self, stop: asyncio.Event) -> None:
        self._stop = stop
        for service in self.services.values():
            await service.start(stop)
        self._follow = asyncio.ensure_future(self._follow_generations(stop))

    def queries(self, model_name: str) -> Callable[[list[str]], Awaitable[np.ndarray]] | None:
        """The query encoder of ``model_name``'s embedder in this process, if it runs."""
        service = self.services.get(model_slug(model_name))
        return None if service is None else service.queries.embed

    async def serve(self, model_name: str) -> None:
        """Start an embedder for ``model_name`` unless one runs; unknown models are
        logged (the collections service refuses them before any generation exists)."""
        if model_slug(model_name) in self.services:
            return
        try:
            model = await asyncio.to_thread(
                load_model,
                model_name,
                self.device,
                self.models_dir,
                self.precision,
                None,
                self.query_precision,
            )
        except CommandError as exc:
            log.error("cannot serve %s: %s", model_name, exc.message)
            return
        bus = await Bus.connect(
            self.nats_url, f"embedder-{model_slug(model_name)}", self.credentials
        )
        self.buses.append(bus)
        service = self.embedder(bus, model)
        self.services[service.slug] = service
        await service.start(self._stop)
        log.info("now embedding with %s", model_name)

    async def _follow_generations(self, stop: asyncio.Event) -> None:
        first = next(iter(self.services.values()))
        sub = await first.bus.js.pull_subscribe(
            event_filter(event_type="GenerationCreated"),
            stream=EVENTS_STREAM,
            config=api.ConsumerConfig(
                ack_policy=api.AckPolicy.NONE,
                deliver_policy=api.DeliverPolicy.ALL,
                inactive_threshold=60.0,
            ),
        )
        try:
            while not stop.is_set():
                try:
                    messages = await sub.fetch(64, timeout=1.0)
                except (NatsTimeoutError, TimeoutError):
                    continue
                for msg in messages:
                    with contextlib.suppress(ValidationError):
                        event = EventEnvelope.model_validate_json(msg.data).event
                        if isinstance(event, GenerationCreated):
                            await self.serve(event.model_name)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def close(self) -> None:
        if self._follow is not None:
            self._follow.cancel()
            await asyncio.gather(self._follow, return_exceptions=True)
        for service in reversed(list(self.services.values())):
            await service.close()
        for bus in self.buses:
            await bus.close()
