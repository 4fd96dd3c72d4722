"""How a process signs in to NATS: its user, its password, and its own reply inbox
(``nats_auth`` gives each user ``_INBOX.<user>.>`` alone)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class NatsCredentials:
    """A NATS user and its password; ``repr`` leaves the password out."""

    user: str
    password: str = field(repr=False)


def inbox_prefix(user: str) -> str:
    """The reply subjects of ``user``'s requests: ``_INBOX.<user>.…``."""
    return f"_INBOX.{user}"


def connect_options(credentials: NatsCredentials | None) -> dict[str, Any]:
    """Keyword arguments of ``nats.connect`` for ``credentials`` (none: anonymous)."""
    if credentials is None:
        return {}
    return {
        "user": credentials.user,
        "password": credentials.password,
        "inbox_prefix": inbox_prefix(credentials.user),
    }
