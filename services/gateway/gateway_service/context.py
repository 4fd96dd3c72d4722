"""What a running gateway holds: settings, users, tokens and, once connected, the bus."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field

from nats.aio.msg import Msg
from semantik_contracts.subjects import SESSIONS_ENDED
from semantik_runtime.bus import Bus

from .auth import Authenticator
from .backend import Backend
from .config import GatewaySettings
from .ratelimit import RateLimiter
from .security import TokenIssuer
from .users import UsersApplication

log = logging.getLogger(__name__)


@dataclass
class GatewayContext:
    settings: GatewaySettings
    users: UsersApplication
    tokens: TokenIssuer
    auth: Authenticator = field(init=False)
    sign_in_limit: RateLimiter = field(init=False)
    search_limit: RateLimiter = field(init=False)
    bus: Bus | None = None
    backend: Backend | None = None
    #: The bus the ended-session feed listens on (``follow_ended_sessions``).
    _feed: Bus | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.auth = Authenticator(self.users, self.tokens)
        settings = self.settings
        self.sign_in_limit = RateLimiter(settings.auth_rate_per_minute, settings.auth_rate_burst)
        self.search_limit = RateLimiter(settings.search_rate_per_minute, settings.search_rate_burst)

    def attach(self, bus: Bus) -> None:
        self.bus = bus
        self.backend = Backend(bus, self.settings)

    def detach(self) -> None:
        self.bus = None
        self.backend = None

    async def follow_bus(self) -> None:
        """What the gateway hears on the bus: ended sessions and the collections' events
        that drop the views kept for search. Idempotent: called at start-up and, where
        the app runs without its lifespan, on each request."""
        await self.follow_ended_sessions()
        if self.backend is not None:
            await self.backend.views.follow()

    async def follow_ended_sessions(self) -> None:
        """Hear of the sessions other gateway processes end, and tell them of ours.

        Sign-outs and replayed refresh tokens are announced on ``SESSIONS_ENDED`` (core
        NATS, every gateway process subscribed), so an ended session's access tokens are
        refused by every replica, not only by the one that ended it. Idempotent: called
        at start-up and, where the app runs without its lifespan, on each request."""
        bus = self.bus
        if bus is None or self._feed is bus:
            return
        self._feed = bus
        loop = asyncio.get_running_loop()
        auth = self.auth

        async def heard(msg: Msg) -> None:
            try:
                ended = json.loads(msg.data)
                auth.note_ended(str(ended["session"]), float(ended["seconds"]))
            except (ValueError, KeyError, TypeError):
                log.warning("ignored a malformed ended-session message: %r", msg.data[:200])

        await bus.nc.subscribe(SESSIONS_ENDED, cb=heard)

        def announce(session: str, seconds: float) -> None:
            payload = json.dumps({"session": session, "seconds": seconds}).encode()
            # Called from the threads sign-in work runs on: published by the loop.
            loop.call_soon_threadsafe(
                lambda: asyncio.ensure_future(bus.nc.publish(SESSIONS_ENDED, payload))
            )

        auth.announce = announce
