"""``semantik bench api`` drives both workloads and reports what it measured."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from gateway_service.ratelimit import RateLimiter

from semantik.bench_api import bench_api, write_documents

from .conftest import Stack

pytestmark = pytest.mark.integration


async def test_the_benchmark_reports_rate_and_percentiles_of_both_workloads(
    stack: Stack,
) -> None:
    alice = await stack.login("alice")
    stack.app.state.context.search_limit = RateLimiter(per_minute=0)  # as the bench asks
    transport = httpx.ASGITransport(app=stack.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway", headers=alice
    ) as client:
        result = await bench_api(
            client, stack.sources / "bench", clients=3, seconds=0.5, documents=0
        )
        again = await bench_api(
            client, stack.sources / "bench", clients=1, seconds=0.1, documents=0
        )
    for workload in ("list_collections", "search"):
        measured = result[workload]
        assert measured["requests"] > 0 and measured["errors"] == 0
        assert measured["rps"] > 0 and 0 < measured["p50_ms"] <= measured["p95_ms"]
    assert len(stack.searches) >= result["search"]["requests"]
    # A second run finds the benchmark's collection instead of making another.
    listed = (await stack.client.get("/api/v2/collections", headers=alice)).json()
    assert listed["total"] == 1 and again["search"]["requests"] > 0


def test_the_generated_documents_mix_the_topics(tmp_path: Path) -> None:
    write_documents(tmp_path / "docs", 3)
    notes = sorted((tmp_path / "docs").iterdir())
    assert [n.name for n in notes] == ["note-0000.md", "note-0001.md", "note-0002.md"]
    first = notes[0].read_text()
    assert first.startswith("# Note 0") and first.count("(note 0, part") == 6
