"""Sign-in flows: tokens from ``security`` bound to the sessions kept by ``users``.

Synchronous on purpose (argon2 and the event store block): routes run it in a thread.

An access token names its session (the refresh family it was issued with). When a
session ends (logout, a replayed refresh token, a disabled account), its access tokens
are refused from then on: the end is an event of the user, folded into the account
index, so this process refuses them at once and a restarted one still does. Other
gateway processes hear of it at once too (``announce``, a core NATS message every
gateway process listens to; see ``GatewayContext.follow_ended_sessions``), before their
index has caught up with the log.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from uuid import UUID

from semantik_contracts import ErrorCode
from semantik_runtime.errors import CommandError

from .accounts import User, unauthorized
from .schemas import TokenPair
from .security import InvalidToken, RefreshClaims, TokenIssuer
from .users import UsersApplication


class Authenticator:
    def __init__(self, users: UsersApplication, tokens: TokenIssuer) -> None:
        self.users = users
        self.tokens = tokens
        self._ended: dict[str, float] = {}  # session id → when its access tokens lapse
        self._lock = threading.Lock()
        #: Tells the other gateway processes (session id, seconds its tokens still live).
        self.announce: Callable[[str, float], None] = lambda _session, _seconds: None

    def session_ended(self, session_id: str | None) -> bool:
        """Was this access token's session ended (logout, replayed refresh token,
        disabled account), here, in the log, or on another gateway process?"""
        if session_id is None:
            return False
        if self.users.index.session_ended(session_id):
            return True
        with self._lock:
            lapses = self._ended.get(session_id)
            return lapses is not None and lapses > time.monotonic()

    def _end(self, session_id: UUID) -> None:
        seconds = self.tokens.access_ttl.total_seconds()
        self.note_ended(str(session_id), seconds)
        self.announce(str(session_id), seconds)

    def note_ended(self, session_id: str, seconds: float) -> None:
        """Refuse the session's access tokens for the ``seconds`` they may still live."""
        now = time.monotonic()
        with self._lock:
            for ended in [s for s, lapses in self._ended.items() if lapses <= now]:
                del self._ended[ended]
            self._ended[session_id] = max(self._ended.get(session_id, 0.0), now + seconds)

    def register(
        self, username: str, password: str, email: str | None, invite_code: str | None = None
    ) -> User:
        return self.users.register(username, password, email, invite_code)

    def login(self, username: str, password: str) -> TokenPair:
        user = self.users.authenticate(username, password)
        refresh = self.tokens.refresh_token(str(user.id))
        self.users.start_session(user.id, refresh.family_id, refresh.token_id, refresh.expires_at)
        return self._pair(user, refresh.token, refresh.family_id)

    def refresh(self, refresh_token: str | None) -> TokenPair:
        """Rotate: a new pair, and the presented refresh token stops working."""
        claims = self._refresh_claims(refresh_token)
        issued = self.tokens.refresh_token(claims.user_id, claims.family_id)
        try:
            user = self.users.rotate(
                _user_uuid(claims),
                claims.family_id,
                claims.token_id,
                issued.token_id,
                issued.expires_at,
            )
        except CommandError:
            self._end(claims.family_id)  # revoked (a replay) or unknown: ended either way
            raise
        return self._pair(user, issued.token, claims.family_id)

    def logout(self, refresh_token: str | None) -> None:
        claims = self._refresh_claims(refresh_token)
        self.users.end_session(_user_uuid(claims), claims.family_id, claims.token_id)
        self._end(claims.family_id)

    def current_user(self, user_id: str) -> User:
        try:
            user = self.users.find(UUID(user_id))
        except ValueError:
            user = None
        if user is None:
            raise CommandError(ErrorCode.UNAUTHORIZED, "the user of this token no longer exists")
        return user

    def _refresh_claims(self, token: str | None) -> RefreshClaims:
        if not token:
            raise unauthorized("no refresh token (neither the session cookie nor a body)")
        try:
            return self.tokens.verify_refresh(token)
        except InvalidToken:
            raise unauthorized("invalid or expired refresh token") from None

    def _pair(self, user: User, refresh_token: str, session_id: UUID) -> TokenPair:
        return TokenPair(
            access_token=self.tokens.access_token(str(user.id), user.username, session_id),
            refresh_token=refresh_token,
            expires_in=int(self.tokens.access_ttl.total_seconds()),
        )


def _user_uuid(claims: RefreshClaims) -> UUID:
    try:
        return UUID(claims.user_id)
    except ValueError:
        raise unauthorized("invalid refresh token") from None
