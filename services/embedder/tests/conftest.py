"""Fixtures of the embedder tests: the real model (loaded once), a private NATS server
per test, a Qdrant Edge store in a temporary directory, and the service itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from embedder_service.app import EmbedderService
from embedder_service.bootstrap import build_embedder_service
from embedder_service.model import EmbeddingModel, load_model
from semantik_runtime.bus import Bus
from semantik_runtime.vectors import VectorStore
from semantik_runtime.vectors.edge import EdgeVectorStore


@pytest.fixture(scope="session")
def model() -> EmbeddingModel:
    return load_model(device="cpu")


@pytest.fixture
async def private_bus(private_nats_url: str) -> AsyncIterator[Bus]:
    bus = await Bus.connect(private_nats_url, "embedder-test")
    await bus.ensure_streams()
    yield bus
    await bus.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VectorStore]:
    edge = EdgeVectorStore(tmp_path / "qdrant")
    yield edge
    edge.close()


ServiceFactory = Callable[..., Awaitable[EmbedderService]]


@pytest.fixture
async def start_embedder(
    private_nats_url: str, store: VectorStore, model: EmbeddingModel
) -> AsyncIterator[ServiceFactory]:
    """Start an embedder (on its own connection, as a second process would have)."""
    running: list[tuple[EmbedderService, asyncio.Event, Bus]] = []

    async def start(shared_store: VectorStore | None = None, **options: Any) -> EmbedderService:
        bus = await Bus.connect(private_nats_url, "embedder")
        options.setdefault("batch_chunks", 16)
        service = build_embedder_service(bus, shared_store or store, model, **options)
        stop = asyncio.Event()
        await service.start(stop)
        running.append((service, stop, bus))
        return service

    yield start
    for service, stop, bus in running:
        stop.set()
        await service.close()
        await bus.close()
