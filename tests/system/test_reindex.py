"""Blue-green reindex through the whole system (seed 004): searches never fail while it
runs, answer from the old generation until the switch and from the new one after it;
a failed or cancelled reindex drops its staging generation and the old one serves on.
Run on both vector-store backends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from embedder_service.model import EmbeddingModel, load_model
from ingest_service.extraction.pool import ExtractionPool
from qdrant_client import QdrantClient
from semantik_contracts.search import DEFAULT_MODEL
from semantik_contracts.work import generation_name
from semantik_runtime.vectors import VectorStore
from semantik_runtime.vectors.edge import EdgeVectorStore
from semantik_runtime.vectors.server import QdrantServerVectorStore

from tests.models import TINY_DIMENSION, TINY_MODEL
from tests.system.system import System, running_system
from tests.waiting import eventually

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning"),
]

#: Four documents of about 60 tokens: one chunk each at the default chunk size, several
#: at 32 tokens, so every search result tells which generation answered it.
FILES = {
    "galaxies.md": (
        "Astronomers point large telescopes at distant galaxies to measure their redshift. "
        "The light left those galaxies billions of years ago, so the telescope shows the "
        "young universe, and spiral arms full of new stars glow blue in the images."
    ),
    "bread.md": (
        "Sourdough bread rises slowly because wild yeast and bacteria ferment the dough. "
        "Bakers fold the dough every half hour, shape the loaf, and bake it in a hot "
        "oven with steam so that the crust turns brown and crackles as it cools."
    ),
    "compilers.md": (
        "A compiler reads source code, builds a syntax tree, checks the types and emits "
        "machine instructions. Optimising compilers inline small functions, unroll loops "
        "and allocate registers so that the program runs faster on the processor."
    ),
    "gardens.md": (
        "Tomatoes need full sun, rich soil and steady watering to grow in a garden. "
        "Gardeners prune the side shoots, tie the stems to stakes and mulch the beds so "
        "that the roots stay moist through the hot dry weeks of the summer months."
    ),
}
WHOLE = set(FILES.values())
RYE = (
    "Rye bread is dense and dark because rye flour holds little gluten. Bakers sour the "
    "dough with a starter, bake the loaf in a tin and let it rest a whole day before "
    "they cut it, so that the crumb sets and the bread keeps for a week."
)


@pytest.fixture(scope="module")
def default_model() -> EmbeddingModel:
    return load_model(device="cpu")


@pytest.fixture(params=["edge", "qdrant-local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    opened: VectorStore
    if request.param == "edge":
        opened = EdgeVectorStore(tmp_path / "qdrant")
    else:
        opened = QdrantServerVectorStore(QdrantClient(":memory:"))
    yield opened
    opened.close()


@pytest.fixture
async def system(
    tmp_path: Path,
    private_nats_url: str,
    store: VectorStore,
    default_model: EmbeddingModel,
    tiny_model: EmbeddingModel,
    models_dir: Path,
    extraction_pool: ExtractionPool,
    request: pytest.FixtureRequest,
) -> AsyncIterator[System]:
    options: dict[str, Any] = getattr(request, "param", {})
    models = [default_model] if options.get("default_only") else [default_model, tiny_model]
    async with running_system(
        tmp_path,
        private_nats_url,
        store,
        models,
        models_dir,
        extraction_pool,
        reindex_grace_seconds=options.get("grace", 1.0),
        reindex_min_overlap=options.get("min_overlap", 0.5),
    ) as running:
        yield running


async def search_texts(system: System, collection_id: str, query: str) -> list[str]:
    found = await system.call(
        "POST", f"/api/v2/collections/{collection_id}/search", json={"query": query, "limit": 4}
    )
    return [hit["text"] for hit in found["results"]]


async def test_searches_never_fail_and_switch_generations_once(system: System) -> None:
    collection = await system.indexed_collection("handbook", FILES)
    cid = collection["id"]
    assert (collection["active_generation"], collection["vector_count"]) == (1, 4)

    seen: list[tuple[float, str]] = []  # (when, "old" | "new") of every search
    errors: list[str] = []
    statuses: set[str] = set()
    stop = asyncio.Event()

    async def search_loop() -> None:
        queries = ["galaxies and telescopes", "bread dough yeast", "compiler registers"]
        n = 0
        while not stop.is_set():
            reply = await system.client.post(
                f"/api/v2/collections/{cid}/search",
                json={"query": queries[n % 3], "limit": 4},
                headers=system.headers,
            )
            n += 1
            if reply.status_code != 200:
                errors.append(f"{reply.status_code}: {reply.text}")
                continue
            texts = [hit["text"] for hit in reply.json()["results"]]
            if not texts:
                errors.append("no results")
            elif all(text in WHOLE for text in texts):
                seen.append((time.monotonic(), "old"))
            elif not any(text in WHOLE for text in texts):
                seen.append((time.monotonic(), "new"))
            else:
                errors.append(f"results from both generations at once: {texts}")
            await asyncio.sleep(0.01)

    async def watch_status() -> None:
        while not stop.is_set():
            body = await system.call("GET", f"/api/v2/collections/{cid}")
            statuses.add(body["status"])
            await asyncio.sleep(0.05)

    loops = [asyncio.create_task(search_loop()), asyncio.create_task(watch_status())]
    await eventually(lambda: _at_least(seen, 5))
    started = time.monotonic()
    operation = await system.call(
        "POST",
        f"/api/v2/collections/{cid}/operations/reindex",
        json={"model_name": TINY_MODEL, "chunk_size": 32, "chunk_overlap": 0},
    )
    assert operation["type"] == "reindex"
    done = await system.operation_done(operation["id"])
    finished = time.monotonic()
    wanted = len(seen) + 5
    await eventually(lambda: _at_least(seen, wanted))
    stop.set()
    await asyncio.gather(*loops)

    assert done["status"] == "completed", done
    assert errors == []
    # Old generation until the switch, the new one after it, never back.
    order = [which for _, which in seen]
    switch = order.index("new")
    assert order[:switch] == ["old"] * switch and set(order[switch:]) == {"new"}
    assert any(started <= when <= finished for when, which in seen if which == "old")
    assert "reindexing" in statuses
    after = await system.call("GET", f"/api/v2/collections/{cid}")
    assert after["status"] == "ready"
    assert (after["active_generation"], after["model_name"]) == (2, TINY_MODEL)
    assert (after["model_dimension"], after["chunk_size"], after["chunk_overlap"]) == (
        TINY_DIMENSION,
        32,
        0,
    )
    assert after["document_count"] == 4
    assert after["vector_count"] == after["chunk_count"] == done["stats"]["embedded_chunks"] > 4
    # Grace period over: generation 1 is gone; the new one stays.
    old_name = generation_name(collection_id=_uuid(cid), generation=1)

    async def old_dropped() -> bool:
        return not system.store.has_generation(old_name)

    await eventually(old_dropped)
    assert system.store.has_generation(generation_name(_uuid(cid), 2))
    texts = await search_texts(system, cid, "sourdough bread")
    assert texts and not set(texts) & WHOLE


@pytest.mark.parametrize("system", [{"min_overlap": 1.01}], indirect=True)
async def test_a_reindex_failing_validation_leaves_the_old_generation_serving(
    system: System,
) -> None:
    collection = await system.indexed_collection("handbook", FILES)
    cid = collection["id"]
    # A file changed since the last index: the reindex reads (and registers) its new text.
    (system.sources / "handbook" / "bread.md").write_text(RYE)
    operation = await system.call(
        "POST", f"/api/v2/collections/{cid}/operations/reindex", json={"chunk_size": 32}
    )
    done = await system.operation_done(operation["id"])
    assert done["status"] == "failed"
    assert "validation failed" in done["error"] and "same documents" in done["error"]
    after = await system.call("GET", f"/api/v2/collections/{cid}")
    assert after["status"] == "degraded"
    assert (after["active_generation"], after["chunk_size"]) == (1, collection["chunk_size"])
    assert (after["document_count"], after["chunk_count"], after["vector_count"]) == (4, 4, 4)

    async def staging_dropped() -> bool:
        return not system.store.has_generation(generation_name(_uuid(cid), 2))

    await eventually(staging_dropped)
    assert set(await search_texts(system, cid, "compiler")) <= WHOLE
    assert FILES["bread.md"] in await search_texts(system, cid, "bread dough")  # old text serves

    # The next index finds the change and makes it in the serving generation.
    index = await system.call("POST", f"/api/v2/collections/{cid}/operations/index")
    indexed = await system.operation_done(index["id"])
    assert indexed["status"] == "completed"
    stats = indexed["stats"]
    assert (stats["new_documents"], stats["removed"], stats["unchanged_skipped"]) == (1, 1, 3)
    texts = await search_texts(system, cid, "bread dough")
    assert RYE in texts and FILES["bread.md"] not in texts
    final = await system.call("GET", f"/api/v2/collections/{cid}")
    assert (final["document_count"], final["chunk_count"], final["vector_count"]) == (4, 4, 4)


@pytest.mark.parametrize("system", [{"default_only": True}], indirect=True)
async def test_a_cancelled_reindex_drops_its_staging_generation(system: System) -> None:
    collection = await system.indexed_collection("handbook", FILES)
    cid = collection["id"]
    (system.sources / "handbook" / "compilers.md").unlink()  # the reindex retires it
    # The model is installed but no embedder of it runs: the reindex stays reprocessing.
    operation = await system.call(
        "POST", f"/api/v2/collections/{cid}/operations/reindex", json={"model_name": TINY_MODEL}
    )

    async def reprocessing() -> bool:
        op = await system.call("GET", f"/api/v2/operations/{operation['id']}")
        return bool(op["total"] > 0 and op["status"] == "processing")

    await eventually(reprocessing)
    assert set(await search_texts(system, cid, "tomatoes garden")) <= WHOLE
    await system.call("POST", f"/api/v2/operations/{operation['id']}/cancel")
    done = await system.operation_done(operation["id"])
    assert done["status"] == "cancelled"
    after = await system.call("GET", f"/api/v2/collections/{cid}")
    assert after["status"] == "ready"  # nothing was lost
    assert (after["active_generation"], after["chunk_size"]) == (1, collection["chunk_size"])

    async def staging_dropped() -> bool:
        return not system.store.has_generation(generation_name(_uuid(cid), 2))

    await eventually(staging_dropped)
    assert set(await search_texts(system, cid, "tomatoes garden")) <= WHOLE
    assert (after["document_count"], after["chunk_count"], after["vector_count"]) == (4, 4, 4)
    # The vanished file still serves from the old generation until the next index.
    assert FILES["compilers.md"] in await search_texts(system, cid, "compiler")
    index = await system.call("POST", f"/api/v2/collections/{cid}/operations/index")
    indexed = await system.operation_done(index["id"])
    assert (indexed["status"], indexed["stats"]["removed"]) == ("completed", 1)
    assert FILES["compilers.md"] not in await search_texts(system, cid, "compiler")
    final = await system.call("GET", f"/api/v2/collections/{cid}")
    assert (final["document_count"], final["chunk_count"], final["vector_count"]) == (3, 3, 3)


async def test_models_are_checked_against_the_registry(system: System) -> None:
    reply = await system.client.post(
        "/api/v2/collections", json={"name": "x", "model_name": "acme/nope"}, headers=system.headers
    )
    assert reply.status_code == 400
    assert DEFAULT_MODEL.name in reply.text and TINY_MODEL in reply.text
    tiny = await system.call(
        "POST", "/api/v2/collections", json={"name": "tiny", "model_name": TINY_MODEL}
    )
    assert (tiny["model_name"], tiny["model_dimension"]) == (TINY_MODEL, TINY_DIMENSION)
    collection = await system.indexed_collection("handbook", FILES)
    reply = await system.client.post(
        f"/api/v2/collections/{collection['id']}/operations/reindex",
        json={"model_name": "acme/nope"},
        headers=system.headers,
    )
    assert reply.status_code == 400 and TINY_MODEL in reply.text
    reply = await system.client.post(
        f"/api/v2/collections/{tiny['id']}/operations/reindex", json={}, headers=system.headers
    )
    assert reply.status_code == 409  # never indexed: nothing to reindex
    # An empty collection (an empty folder indexed) reindexes into another model too.
    empty = await system.indexed_collection("empty", {})
    operation = await system.call(
        "POST",
        f"/api/v2/collections/{empty['id']}/operations/reindex",
        json={"model_name": TINY_MODEL},
    )
    assert (await system.operation_done(operation["id"]))["status"] == "completed"
    after = await system.call("GET", f"/api/v2/collections/{empty['id']}")
    assert (after["active_generation"], after["model_name"], after["vector_count"]) == (
        2,
        TINY_MODEL,
        0,
    )
    assert system.store.has_generation(generation_name(_uuid(empty["id"]), 2))


async def _at_least(items: list[Any], n: int) -> bool:
    return len(items) >= n


def _uuid(value: str) -> Any:
    from uuid import UUID

    return UUID(value)
