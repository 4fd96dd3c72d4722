"""One embedded system for the fault scenarios of this package (issue 11 parts 1 and 6)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.e2e.conftest import RunningSystem, semantik_run

from .faults import sign_in


@pytest.fixture(scope="package")
def faulted_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    """``semantik run`` in the embedded default, shared by every scenario: each one
    indexes into a collection of its own, so one restart does not cost a whole start."""
    with semantik_run(tmp_path_factory.mktemp("faulted")) as running:
        yield running


@pytest.fixture(scope="package")
def faulted_auth(faulted_system: RunningSystem) -> dict[str, str]:
    """One signed-in user for every scenario (sign-ins are rate limited)."""
    return sign_in(faulted_system)


@pytest.fixture
async def faulted_client(faulted_system: RunningSystem) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=faulted_system.url, timeout=60) as http:
        yield http
