"""Waiting in a test for what a system does in its own time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], what: str = "", timeout: float = 60.0) -> T:
    """Poll ``check()`` every 0.1 s until it returns something truthy, and return that;
    an ``AssertionError`` naming ``what`` past ``timeout`` seconds. The default minute is
    for a loaded CI machine with coverage on, where a webhook's delivery log once took
    over 30 s to be read back; a check that should fail fast passes its own."""
    deadline = time.monotonic() + timeout
    while not (found := await check()):
        assert time.monotonic() < deadline, f"not reached within {timeout}s" + (
            f": {what}" if what else ""
        )
        await asyncio.sleep(0.1)
    return found
