"""The gateway as a real HTTP server (uvicorn, in a thread with its own event loop) before
the real collections and ingest services on a private nats-server, with the stand-ins of
``conftest`` for the vector count and search. One per test module: it takes a second or
two to start."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import uvicorn
from collections_service.application import CollectionsApplication
from collections_service.bootstrap import build_collections_service
from fastapi import FastAPI
from gateway_service.http_app import create_app
from ingest_service.application import IngestApplication
from ingest_service.bootstrap import build_ingest_service
from ingest_service.extraction.pool import ExtractionPool
from ingest_service.sources.roots import SourceRoots
from ingest_service.sources.uploaded import UploadedFiles
from semantik_contracts import ErrorCode, SourceKind
from semantik_contracts.commands import ValidatedSource, ValidateSource
from semantik_contracts.search import Search, SearchResponse
from semantik_contracts.subjects import INGEST, SEARCH_RPC, VECTOR_COUNT_RPC, command_subject
from semantik_contracts.work import CountVectors, VectorCount
from semantik_runtime.bus import Bus
from semantik_runtime.errors import CommandError
from semantik_runtime.eventstore import event_store_env

from services.gateway.tests.settings import gateway_settings
from tests.services import free_port, private_nats


async def serve_stand_ins(
    stack_bus: Bus,
    embedder: Bus,
    vector_counts: dict[UUID, int],
    searches: list[Search],
    *,
    validate_sources: bool = True,
) -> None:
    def check(path: Path) -> ValidatedSource:
        if not path.exists():
            raise CommandError(ErrorCode.INVALID, f"{path} does not exist")
        kind = SourceKind.DIRECTORY if path.is_dir() else SourceKind.FILE
        return ValidatedSource(path=str(path.resolve()), kind=kind)

    async def validate(request: ValidateSource) -> ValidatedSource:
        if request.path.startswith("upload://"):  # ingest fetches it from the object store
            return ValidatedSource(path=request.path, kind=SourceKind.UPLOAD)
        return await asyncio.to_thread(check, Path(request.path))

    async def count(request: CountVectors) -> VectorCount:
        return VectorCount(count=vector_counts.get(request.collection_id, 0))

    async def search(request: Search) -> SearchResponse:
        searches.append(request)
        return SearchResponse(results=[], warnings=["stand-in search"], took_ms=1.0)

    if validate_sources:
        await stack_bus.serve(
            command_subject(INGEST, "ValidateSource"), ValidateSource, validate, queue="ingest"
        )
    await stack_bus.serve(SEARCH_RPC, Search, search, queue="search")
    await embedder.serve(VECTOR_COUNT_RPC, CountVectors, count, queue="vectors")


@dataclass
class ServedGateway:
    """Where the gateway listens, and what a test inspects behind it."""

    url: str
    nats_url: str
    data: Path
    app: FastAPI | None = None
    searches: list[Search] = field(default_factory=list)

    @property
    def roots(self) -> Path:
        """The one source root ingest allows (``SEMANTIK_SOURCE_ROOTS``)."""
        return self.data / "sources"

    @property
    def gateway_data(self) -> Path:
        """The gateway's data dir (its secrets: the operator account's credentials)."""
        return self.data / "gateway"


async def serve(
    served: ServedGateway, up: threading.Event, down: dict[str, Any], overrides: dict[str, Any]
) -> None:
    """The gateway and the services behind it, until ``down["stop"]`` is set."""
    data, nats_url = served.data, served.nats_url
    stop = asyncio.Event()
    down.update(loop=asyncio.get_running_loop(), stop=stop)
    names = ("collections", "ingest", "vectors", "gateway")
    buses = [await Bus.connect(nats_url, name) for name in names]
    collections = CollectionsApplication(env=event_store_env("collections", None, data))
    ingest = IngestApplication(env=event_store_env("ingest", None, data))
    pool = ExtractionPool(1, niceness=0)
    services = [
        build_collections_service(collections, buses[0], operation_timeout_seconds=3600),
        build_ingest_service(
            ingest,
            buses[1],
            SourceRoots([served.roots]),
            pool,
            UploadedFiles(buses[1], data / "uploads"),
            max_file_bytes=1 << 20,
            embed_max_pending=100,
        ),
    ]
    for service in services:
        await service.start(stop)
    await serve_stand_ins(buses[2], buses[2], {}, served.searches, validate_sources=False)
    settings = {"auth_rate_per_minute": 0, "search_rate_per_minute": 0, **overrides}
    app = create_app(gateway_settings(data, nats_url, **settings), buses[3])
    served.app = app
    port = int(served.url.rsplit(":", 1)[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    up.set()
    await stop.wait()
    server.should_exit = True
    await serving
    for service in reversed(services):
        await service.close()
    for bus in buses:
        await bus.close()
    for store in (collections, ingest, pool, app.state.context.users):
        store.close()


@contextlib.contextmanager
def served_gateway(data: Path, **overrides: Any) -> Iterator[ServedGateway]:
    """The served gateway over ``data`` (its source root is ``data/sources``) until the
    block ends; ``overrides`` are gateway settings."""
    up, down = threading.Event(), dict[str, Any]()
    with private_nats() as nats_url:
        served = ServedGateway(f"http://127.0.0.1:{free_port()}", nats_url, data)
        served.roots.mkdir(parents=True, exist_ok=True)
        thread = threading.Thread(
            target=lambda: asyncio.run(serve(served, up, down, overrides)), daemon=True
        )
        thread.start()
        assert up.wait(30), "the gateway did not start"
        try:
            yield served
        finally:
            down["loop"].call_soon_threadsafe(down["stop"].set)
            thread.join(30)
