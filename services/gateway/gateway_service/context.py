"""What a running gateway holds: settings, users, tokens and, once connected, the bus."""

from __future__ import annotations

from dataclasses import dataclass, field

from semantik_runtime.bus import Bus

from .auth import Authenticator
from .backend import Backend
from .config import GatewaySettings
from .ratelimit import RateLimiter
from .security import TokenIssuer
from .users import UsersApplication


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
