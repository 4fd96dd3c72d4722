"""Running a service process: logging, signals, health endpoint, orderly shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from .health import Check, HealthServer
from .settings import ServiceSettings


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # nats-py logs every reconnect attempt at ERROR; the services log what matters.
    logging.getLogger("nats").setLevel(logging.CRITICAL)


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def serve_until_stopped(
    name: str,
    settings: ServiceSettings,
    start: Callable[[asyncio.Event], Awaitable[Callable[[], Awaitable[None]]]],
    checks: dict[str, Check] | None = None,
) -> None:
    """Start a service, serve its health endpoint, and shut it down on SIGTERM/SIGINT.

    ``start`` receives the stop event and returns the coroutine function that closes
    what it opened.
    """
    stop = asyncio.Event()
    install_stop_signals(stop)
    close = await start(stop)
    health = HealthServer(name, checks or {})
    if settings.health_port:
        await health.start("0.0.0.0", settings.health_port)
    logging.getLogger(name).info("%s started", name)
    try:
        await stop.wait()
    finally:
        await health.close()
        await close()
