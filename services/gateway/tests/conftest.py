"""The gateway's own tests: the gateway alone, over a private nats-server."""

from __future__ import annotations

import pytest

from .settings import gateway_settings

__all__ = ["gateway_settings"]


@pytest.fixture
def nats_url(private_nats_url: str) -> str:
    """Each test gets a server of its own: its streams hold that test's events only."""
    return private_nats_url
