"""schemathesis against the gateway's own OpenAPI schema: whatever a client sends to any
operation, the answer is never a server error.

The gateway runs as a real HTTP server (uvicorn, in a thread with its own event loop)
before the real collections and ingest services, with the stand-ins of ``conftest`` for
the vector count and search; requests carry a valid access token, so they reach past
authentication.
Examples per operation are bounded to keep the run short.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from gateway_service.http_app import create_app
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from .conftest import gateway_settings
from .served import served_gateway

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

ACCOUNT = {"username": "fuzzer", "password": "correct horse"}


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_gateway(tmp_path_factory.mktemp("fuzz")) as served:
        yield served.url


@pytest.fixture(scope="module")
def access(gateway_url: str) -> dict[str, str]:
    """A signed-in user who owns one collection."""
    with httpx.Client(base_url=gateway_url) as client:
        client.post("/api/v1/auth/register", json=ACCOUNT)
        token = client.post("/api/v1/auth/login", json=ACCOUNT).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        client.post("/api/v2/collections", json={"name": "fuzzed"}, headers=headers)
    return headers


def openapi_document() -> dict[str, Any]:
    """The gateway's OpenAPI document, as it serves it at ``/openapi.json``."""
    with tempfile.TemporaryDirectory() as data:
        app = create_app(gateway_settings(Path(data), "nats://127.0.0.1:1"))
        try:
            return app.openapi()
        finally:
            app.state.context.users.close()


# Readiness answers 503 by design here (no embedder runs); its own tests cover it.
schema = schemathesis.openapi.from_dict(openapi_document()).exclude(path="/health/ready")


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_is_a_server_error(
    case: schemathesis.Case, gateway_url: str, access: dict[str, str]
) -> None:
    response = case.call(base_url=gateway_url, headers=access, timeout=15)
    case.validate_response(response, checks=[not_a_server_error])
