"""Gateway settings for tests: a data dir of the test's own and no secret from outside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway_service.config import GatewaySettings


def gateway_settings(tmp_path: Path, nats_url: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "gateway",
        "nats_url": nats_url,
        "database_url": None,
        "jwt_secret": None,
        "vector_count_timeout_seconds": 0.5,
        # The tests' users register themselves; closed and invite have their own tests.
        "registration": "open",
        **overrides,
    }
    return GatewaySettings(**values)
