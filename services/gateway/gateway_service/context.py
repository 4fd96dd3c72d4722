"""What a running gateway holds: settings, users, tokens and, once connected, the bus."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nats.aio.msg import Msg
from semantik_contracts.subjects import ACCOUNTS_CHANGED, SESSIONS_ENDED, event_filter
from semantik_runtime.bus import Bus

from .auth import Authenticator
from .backend import Backend
from .config import GatewaySettings
from .principals import Principals
from .ratelimit import Limiter, RateLimiter, SharedRateLimiter
from .security import TokenIssuer
from .users import UsersApplication
from .webhook_delivery import WebhookDeliverer
from .webhooks import Webhooks

if TYPE_CHECKING:
    from .realtime import LiveSession

log = logging.getLogger(__name__)
#: Seconds between catch-ups of the account index with the log, should a replica's
#: ``ACCOUNTS_CHANGED`` message be lost.
ACCOUNTS_CATCH_UP_SECONDS = 5.0


@dataclass
class GatewayContext:
    settings: GatewaySettings
    users: UsersApplication
    tokens: TokenIssuer
    auth: Authenticator = field(init=False)
    principals: Principals = field(init=False)
    sign_in_limit: Limiter = field(init=False)
    search_limit: Limiter = field(init=False)
    webhooks: Webhooks = field(init=False)
    #: Delivers the webhooks' events while the gateway follows the bus.
    deliverer: WebhookDeliverer | None = field(default=None, init=False)
    bus: Bus | None = None
    backend: Backend | None = None
    #: Open WebSocket sessions, checked again when access changes.
    live: set[LiveSession] = field(default_factory=set, init=False)
    #: The bus the ended-session feed listens on (``follow_ended_sessions``).
    _feed: Bus | None = field(default=None, init=False)
    _accounts_feed: Bus | None = field(default=None, init=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        self.auth = Authenticator(self.users, self.tokens)
        self.principals = Principals(self.users.index, self.tokens)
        settings = self.settings
        # Shared by every replica through the bus, once it has one (``attach``).
        sign_in = RateLimiter(settings.auth_rate_per_minute, settings.auth_rate_burst)
        search = RateLimiter(settings.search_rate_per_minute, settings.search_rate_burst)
        self.sign_in_limit = SharedRateLimiter("sign-in", sign_in, lambda: self.bus)
        self.search_limit = SharedRateLimiter("search", search, lambda: self.bus)
        self.webhooks = Webhooks(self.users, settings.webhook_max_per_user)

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
        await self.follow_access_changes()
        if self.backend is not None:
            await self.backend.views.follow()
        await self.deliver_webhooks()

    async def deliver_webhooks(self) -> None:
        """Start this process's webhook deliverer (idempotent)."""
        bus = self.bus
        if bus is None or (self.deliverer is not None and self.deliverer.bus is bus):
            return
        self.deliverer = WebhookDeliverer(bus, self.webhooks, self.users.index, self.settings)
        await self.deliverer.start()

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

    async def follow_access_changes(self) -> None:
        """Keep the account index and the open WebSockets current with every replica.

        This process's account changes are told to the others on ``ACCOUNTS_CHANGED``;
        hearing one (or a collection's ``AccessRevoked`` event) checks every open
        subscription again, so a revoke or a team left takes effect at once."""
        bus = self.bus
        if bus is None or self._accounts_feed is bus:
            return
        self._accounts_feed = bus
        loop = asyncio.get_running_loop()
        index = self.users.index
        await asyncio.to_thread(index.catch_up)  # what others saved before we listened

        async def changed_elsewhere(msg: Msg) -> None:
            await asyncio.to_thread(index.catch_up)
            await asyncio.to_thread(self.webhooks.catch_up)
            try:
                teams = bool(json.loads(msg.data).get("teams", True))
            except (ValueError, AttributeError):
                teams = True  # unreadable: check rather than miss a member removed
            if teams:
                self.recheck_live()

        async def revoked(_: Msg) -> None:
            self.recheck_live()

        await bus.nc.subscribe(ACCOUNTS_CHANGED, cb=changed_elsewhere)
        await bus.nc.subscribe(event_filter(event_type="AccessRevoked"), cb=revoked)

        def changed_here(teams: bool) -> None:
            # Saved on a worker thread: announced, and sockets checked, by the loop. Only
            # a team's members change what subscriptions may follow (disabled users and
            # revoked keys are caught by each socket's own check, every second).
            def announce() -> None:
                self._spawn(bus.nc.publish(ACCOUNTS_CHANGED, json.dumps({"teams": teams}).encode()))
                if teams:
                    self.recheck_live()

            loop.call_soon_threadsafe(announce)

        self.users.on_changed = changed_here
        self._spawn(self._catch_up_accounts())

    async def _catch_up_accounts(self) -> None:
        while True:
            await asyncio.sleep(ACCOUNTS_CATCH_UP_SECONDS)
            try:
                await asyncio.to_thread(self.users.index.catch_up)
            except Exception:
                log.exception("the account index could not catch up; trying again")

    def recheck_live(self) -> None:
        for session in list(self.live):
            self._spawn(session.recheck())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        if self.deliverer is not None:
            await self.deliverer.stop()
            self.deliverer = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
