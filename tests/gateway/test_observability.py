"""What operators and integrators read: ``/metrics``, ``/docs`` and the bus's AsyncAPI
document, which is also committed as ``docs/asyncapi.json``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from uuid import uuid4

import pytest
from semantik_contracts.asyncapi import asyncapi_document

from .conftest import Stack

pytestmark = pytest.mark.integration

COMMITTED = Path(__file__).parents[2] / "docs" / "asyncapi.json"


def count(text: str, route: str, status: str) -> float:
    """The request count of one route template and status in a Prometheus exposition."""
    pattern = (
        r'semantik_http_request_duration_seconds_count\{method="GET",'
        rf'route="{re.escape(route)}",status="{status}"\}} (\S+)'
    )
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


async def test_metrics_count_requests_by_route_template(stack: Stack) -> None:
    alice = await stack.login("alice")
    route = "/api/v2/collections/{collection_id}"
    before = (await stack.client.get("/metrics")).text
    for _ in range(2):
        await stack.client.get(f"/api/v2/collections/{uuid4()}", headers=alice)
    await stack.client.get(f"/no/such/{uuid4()}")
    scraped = await stack.client.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    assert count(text, route, "404") == count(before, route, "404") + 2
    # Unknown paths do not make series of their own.
    assert count(text, "unmatched", "404") >= 1
    assert "/no/such" not in text
    assert 'semantik_bus_request_duration_seconds_bucket{le="0.005",outcome="not_found"' in text
    assert "# TYPE semantik_embed_consumer_pending gauge" in text


async def test_openapi_docs_have_examples_and_the_asyncapi_is_served(stack: Stack) -> None:
    schema = (await stack.client.get("/openapi.json")).json()
    create = schema["components"]["schemas"]["CollectionCreate"]
    assert create["examples"], "the create body shows an example"
    assert (await stack.client.get("/docs")).status_code == 200
    served = (await stack.client.get("/asyncapi")).json()
    assert served == asyncapi_document()
    assert "semantik.evt.{collection_id}.{aggregate}.{aggregate_id}.{event}" in {
        channel["address"] for channel in served["channels"].values()
    }


def test_the_committed_asyncapi_document_is_the_generated_one() -> None:
    committed = json.loads(COMMITTED.read_text())
    assert committed == asyncapi_document(), (
        "docs/asyncapi.json is stale: run "
        "`.venv/bin/python -m semantik_contracts.asyncapi > docs/asyncapi.json`"
    )
