"""One ``semantik run`` for the whole client suite (package-scoped), and its accounts:
each test signs in as users of its own (made by the operator, sources granted)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from semantik.client import SemantikClient
from tests.e2e.conftest import RunningSystem, register, semantik_run

PASSWORD = "a long client password"

SignedIn = Callable[[str], AbstractAsyncContextManager[SemantikClient]]


@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    # Every test signs in a few times (as its user and as the operator making it).
    settings = {"AUTH_RATE_LIMIT_PER_MINUTE": "0"}
    with semantik_run(tmp_path_factory.mktemp("client"), **settings) as running:
        yield running


@pytest.fixture
def signed_in(system: RunningSystem) -> SignedIn:
    """``async with signed_in("name") as client``: a client signed in as that user."""

    @asynccontextmanager
    async def open_client(username: str) -> AsyncIterator[SemantikClient]:
        async with httpx.AsyncClient(base_url=system.url) as http:
            assert await register(http, {"username": username, "password": PASSWORD}) in (201, 409)
        async with SemantikClient(system.url) as client:
            await client.login(username, PASSWORD)
            yield client

    return open_client


def write_notes(folder: Path, notes: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in notes.items():
        (folder / name).write_text(text)
    return folder
