"""Users of the gateway: an event-sourced ``User`` aggregate and its application.

A user's id is ``uuid5(USERS_NAMESPACE, username.casefold())``: registering a name that
exists (in any letter case) is a version conflict in the event store, so two concurrent
registrations cannot both succeed. Refresh tokens are grouped in families (one per
login); each refresh rotates the family's current token, and presenting a token that
was already rotated away revokes the whole family (it was stolen or replayed).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError
from semantik_contracts import ErrorCode
from semantik_runtime.errors import CommandError

from .security import hash_password, verify_password

USERS_NAMESPACE = UUID("5cc144c1-8f6b-4071-b6c4-99182438d375")


def user_id_for(username: str) -> UUID:
    return uuid5(USERS_NAMESPACE, username.casefold())


def unauthorized(message: str) -> CommandError:
    return CommandError(ErrorCode.UNAUTHORIZED, message)


class User(Aggregate):
    @event("Registered")
    def __init__(self, id: UUID, username: str, email: str | None, password_hash: str) -> None:
        self.username = username
        self.email = email
        self.password_hash = password_hash
        # Live sessions only: family id → its current token id, and → its expiry.
        self.refresh_tokens: dict[str, str] = {}
        self.refresh_expiry: dict[str, datetime] = {}

    @event("RefreshTokenIssued")
    def issue_refresh(
        self, family_id: UUID, token_id: UUID, issued_at: datetime, expires_at: datetime
    ) -> None:
        """Start a family (login) or rotate its current token (refresh)."""
        for family, expiry in list(self.refresh_expiry.items()):
            if expiry <= issued_at:
                self.refresh_tokens.pop(family, None)
                self.refresh_expiry.pop(family, None)
        self.refresh_tokens[str(family_id)] = str(token_id)
        self.refresh_expiry[str(family_id)] = expires_at

    @event("RefreshFamilyRevoked")
    def revoke_family(self, family_id: UUID, reason: str) -> None:
        self.refresh_tokens.pop(str(family_id), None)
        self.refresh_expiry.pop(str(family_id), None)

    def holds_current(self, family_id: UUID, token_id: UUID) -> bool:
        return self.refresh_tokens.get(str(family_id)) == str(token_id)

    def knows_family(self, family_id: UUID) -> bool:
        return str(family_id) in self.refresh_tokens


class UsersApplication(Application[UUID]):
    """Registration, password checks and the refresh-token families of each user."""

    name = "gateway"
    snapshotting_intervals = {User: 50}

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env=env)
        # Rotations of one process never race; replicas that do meet a version conflict.
        self._writes = threading.Lock()

    def register(self, username: str, password: str, email: str | None) -> User:
        user_id = user_id_for(username)
        if user_id in self.repository:
            raise self._taken(username)
        user = User(
            id=user_id, username=username, email=email, password_hash=hash_password(password)
        )
        try:
            self.save(user)
        except IntegrityError:
            raise self._taken(username) from None
        return user

    def authenticate(self, username: str, password: str) -> User:
        user = self.find(user_id_for(username))
        if not verify_password(user.password_hash if user else None, password) or user is None:
            raise unauthorized("invalid username or password")
        return user

    def find(self, user_id: UUID) -> User | None:
        try:
            user: User = self.repository.get(user_id)
        except AggregateNotFoundError:
            return None
        return user

    def start_session(
        self, user_id: UUID, family_id: UUID, token_id: UUID, expires: datetime
    ) -> None:
        with self._writes:
            user = self._existing(user_id)
            user.issue_refresh(family_id, token_id, datetime.now(UTC), expires)
            self.save(user)

    def rotate(
        self, user_id: UUID, family_id: UUID, token_id: UUID, new_token_id: UUID, expires: datetime
    ) -> User:
        """Replace the family's current token; a stale token revokes the family."""
        with self._writes:
            user = self._existing(user_id)
            if not user.holds_current(family_id, token_id):
                if user.knows_family(family_id):
                    user.revoke_family(family_id, "a rotated refresh token was presented again")
                    self.save(user)
                raise unauthorized("refresh token is no longer valid")
            user.issue_refresh(family_id, new_token_id, datetime.now(UTC), expires)
            self.save(user)
            return user

    def end_session(self, user_id: UUID, family_id: UUID, token_id: UUID) -> None:
        """Logout: revoke the family of a current refresh token."""
        with self._writes:
            user = self._existing(user_id)
            if not user.holds_current(family_id, token_id):
                raise unauthorized("refresh token is no longer valid")
            user.revoke_family(family_id, "logout")
            self.save(user)

    def _existing(self, user_id: UUID) -> User:
        user = self.find(user_id)
        if user is None:
            raise unauthorized("unknown user")
        return user

    @staticmethod
    def _taken(username: str) -> CommandError:
        return CommandError(ErrorCode.CONFLICT, f"username {username!r} is already taken")
