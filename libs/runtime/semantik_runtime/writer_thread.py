"""Driving a synchronous eventsourcing application from asyncio.

Its methods run on one thread, so two commands never race on an aggregate and the
event loop never blocks on the store; each save wakes the outbox relay at once instead
of at its next poll.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from eventsourcing.application import Application
from semantik_contracts import EventEnvelope

from .bus import Bus
from .relay import OutboxRelay

T = TypeVar("T")


class Committing(Protocol):
    """An application that calls ``on_saved`` after each save of its own."""

    on_saved: Callable[[], None]


class WriterThread:
    def __init__(self, app: Application[Any], bus: Bus, name: str) -> None:
        self.app = app
        self.relay = OutboxRelay(app, bus)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"{name}-writer")

    def attach(self, committing: Committing) -> None:
        """Wake the relay from the writer thread whenever ``committing`` saves."""
        loop = asyncio.get_running_loop()

        def wake_relay() -> None:
            loop.call_soon_threadsafe(self.relay.wake)

        committing.on_saved = wake_relay

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the writer thread: the application is touched by it alone.

        It runs in the caller's context, so the events it saves carry the caller's trace
        (``telemetry.TracingMapper``)."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, context.run, fn, *args)

    def on_event(self, fn: Callable[[Any], None]) -> Callable[[EventEnvelope], Awaitable[None]]:
        """A consumer's handler that runs ``fn(event)`` on the writer thread."""

        async def handle(envelope: EventEnvelope) -> None:
            await self.call(fn, envelope.event)

        return handle

    def on_events(
        self, fn: Callable[[list[Any]], None]
    ) -> Callable[[list[EventEnvelope]], Awaitable[None]]:
        """A batch consumer's handler that runs ``fn(events)`` on the writer thread."""

        async def handle(envelopes: list[EventEnvelope]) -> None:
            await self.call(fn, [envelope.event for envelope in envelopes])

        return handle

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
