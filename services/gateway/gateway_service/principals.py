"""Who is asking (SPEC §11): a signed-in user, or an API key acting as its owner.

Resolved on every request from the account index (memory): a disabled user, a revoked
or expired key and an ended session stop working at once. An API key is narrowed to its
scopes and, optionally, to some collections:

- ``search``: list and read the collections it may read, and search them;
- ``read``: every ``GET`` and the WebSocket;
- ``write``: ``read`` + what its owner's role allows, except managing access;

and never the account routes (``/api/v1``) but ``GET /api/v1/auth/me``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from semantik_contracts import ErrorCode
from semantik_runtime.errors import CommandError

from .account_index import AccountIndex
from .administration import KEY_PREFIX, key_secret_hash
from .security import InvalidToken, TokenIssuer

SEARCH, READ, WRITE = "search", "read", "write"
SCOPES = (SEARCH, READ, WRITE)
#: Routes (method, template) a ``search`` key may use.
SEARCH_ROUTES = frozenset(
    {
        ("GET", "/api/v2/collections"),
        ("GET", "/api/v2/collections/{collection_id}"),
        ("POST", "/api/v2/collections/{collection_id}/search"),
        ("POST", "/api/v2/search"),
        ("GET", "/api/v1/auth/me"),
    }
)
ACCESS_ROUTES = "/api/v2/collections/{collection_id}/access"


class Unauthenticated(Exception):
    """No valid credentials: 401 (or a WebSocket closed with 1008)."""


@dataclass(frozen=True)
class Principal:
    user_id: str
    username: str
    is_admin: bool = False
    teams: tuple[str, ...] = ()
    session_id: str | None = None
    expires_at: float | None = None  # seconds since the epoch
    key_id: UUID | None = None
    #: None for a signed-in user (every right their roles give); a key's scopes.
    scopes: frozenset[str] | None = None
    #: None: any collection the owner may read; else only these.
    collection_ids: frozenset[UUID] | None = field(default=None)
    #: Directories path sources may come from: None (an admin) any configured root.
    source_roots: tuple[str, ...] | None = ()

    @property
    def acting(self) -> dict[str, Any]:
        """The ``actor`` and ``teams`` fields of every command sent on their behalf."""
        return {"actor": self.user_id, "teams": list(self.teams)}

    @property
    def roots(self) -> list[str] | None:
        """The ``roots`` of an ``AddSource`` on their behalf."""
        return None if self.source_roots is None else list(self.source_roots)

    @property
    def cache_key(self) -> str:
        """Tells apart what two askers may see (teams grant roles too)."""
        return f"{self.user_id}|{','.join(self.teams)}"

    def may_use(self, method: str, route: str) -> bool:
        """Whether the key's scopes cover this route (a signed-in user's always do)."""
        if self.scopes is None:
            return True
        if route.startswith("/api/v1/") and route != "/api/v1/auth/me":
            return False
        if route.startswith(ACCESS_ROUTES):
            return False
        if (method, route) in SEARCH_ROUTES:
            return bool(self.scopes)
        if method in ("GET", "HEAD"):
            return bool(self.scopes & {READ, WRITE})
        return WRITE in self.scopes

    def reaches(self, collection_id: UUID) -> bool:
        return self.collection_ids is None or collection_id in self.collection_ids

    def check_collections(self, collection_ids: Iterable[UUID]) -> None:
        """403 when a key limited to some collections names another."""
        for collection_id in collection_ids:
            if not self.reaches(collection_id):
                raise CommandError(
                    ErrorCode.FORBIDDEN,
                    f"this API key is not allowed collection {collection_id}",
                )


class Principals:
    """Resolves a bearer credential (access token or API key) against the index."""

    def __init__(self, index: AccountIndex, tokens: TokenIssuer) -> None:
        self.index = index
        self.tokens = tokens

    def resolve(self, credential: str) -> Principal:
        if credential.startswith(KEY_PREFIX):
            return self._key(credential)
        try:
            claims = self.tokens.verify_access(credential)
        except InvalidToken:
            raise Unauthenticated("invalid or expired access token") from None
        principal = self._user(claims.user_id)
        return replace(principal, session_id=claims.session_id, expires_at=claims.expires_at)

    def still_valid(self, principal: Principal) -> str | None:
        """Why the principal's credentials stopped counting since it was resolved, if
        they did: a disabled user, a revoked or expired key."""
        user = self.index.user(principal.user_id)
        if user is None or user.disabled:
            return "this account is disabled"
        if principal.key_id is not None:
            key = self.index.keys.get(principal.key_id)
            if key is None or key.revoked:
                return "this API key was revoked"
            if key.expires_at is not None and key.expires_at <= datetime.now(UTC):
                return "this API key expired"
        return None

    def current(self, principal: Principal) -> Principal:
        """The same principal with the teams its user is in now."""
        return replace(principal, teams=self.index.teams_of(principal.user_id))

    def _user(self, user_id: str) -> Principal:
        user = self.index.user(user_id)
        if user is None:
            # Signed by this installation, so maybe registered on another gateway a
            # moment ago: read the log once before refusing.
            self.index.catch_up()
            user = self.index.user(user_id)
        if user is None:
            raise Unauthenticated("the user of this token no longer exists")
        if user.disabled:
            raise Unauthenticated("this account is disabled; ask an admin")
        roots = None if user.is_admin else tuple(r.path for r in self.index.roots_of(user_id))
        return Principal(
            user_id=str(user.id),
            username=user.username,
            is_admin=user.is_admin,
            teams=self.index.teams_of(str(user.id)),
            source_roots=roots,
        )

    def _key(self, credential: str) -> Principal:
        key_hex, _, secret = credential[len(KEY_PREFIX) :].partition("_")
        try:
            key = self.index.keys.get(UUID(hex=key_hex))
        except ValueError:
            key = None
        # The hash is compared even for an unknown key, so timing tells nothing.
        expected = key.secret_sha256 if key else key_secret_hash("")
        matches = hmac.compare_digest(expected, key_secret_hash(secret))
        if key is None or not matches or key.revoked:
            raise Unauthenticated("invalid or revoked API key")
        if key.expires_at is not None and key.expires_at <= datetime.now(UTC):
            raise Unauthenticated("this API key expired")
        owner = self._user(key.owner)
        collections = (
            None if key.collection_ids is None else frozenset(UUID(c) for c in key.collection_ids)
        )
        return replace(
            owner,
            is_admin=False,  # a key never administers
            key_id=key.id,
            scopes=frozenset(key.scopes),
            collection_ids=collections,
            expires_at=key.expires_at.timestamp() if key.expires_at else None,
        )
