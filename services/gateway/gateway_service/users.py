"""Users of the gateway: the application of the event-sourced ``User`` aggregate.

A user's id is ``uuid5(USERS_NAMESPACE, username.casefold())``: registering a name that
exists (in any letter case) is a version conflict in the event store, so two concurrent
registrations cannot both succeed. Refresh tokens are grouped in families (one per
login); each refresh rotates the family's current token, and presenting a token that
was already rotated away revokes the whole family (it was stolen or replayed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording
from semantik_contracts import ErrorCode
from semantik_runtime.errors import CommandError

from .account_index import AccountIndex
from .accounts import (
    INSTANCE_ID,
    Instance,
    Invite,
    Team,
    User,
    invite_id_for,
    unauthorized,
    user_id_for,
)
from .administration import Administration
from .security import hash_password, verify_password


class UsersApplication(Administration, Application[UUID]):
    """Registration, password checks and the refresh-token families of each user; the
    administration of users, teams, keys and grants is in ``administration.py``.

    Its long-lived aggregates are snapshotted every so many events (eventsourcing's
    ``snapshotting_intervals``; their state is strings, flags, lists and datetimes, which
    its JSON transcoder gives back as they were, so eventsourcing's own ``Snapshot``
    serves): a ``User`` every 50 (a refresh token rotates every few minutes of each
    session), a ``Team`` every 100 (members come and go for as long as it exists), and
    a ``Webhook`` every 50 (``webhooks.py``). API keys, source roots, invites and the
    instance record a handful of events in their lives: never."""

    name = "gateway"
    snapshotting_intervals = {User: 50, Team: 100}

    def __init__(
        self,
        env: dict[str, str],
        registration: str = "closed",
        access_ttl: timedelta = timedelta(minutes=30),
    ) -> None:
        super().__init__(env=env)
        # Rotations of one process never race; replicas that do meet a version conflict.
        self._writes = threading.Lock()
        #: The configured registration mode; an admin's choice, kept in the log, wins.
        self.registration_default = registration
        #: ``access_ttl``: how long the access tokens of an ended session stay refused.
        self.index = AccountIndex(self, access_ttl)
        self.index.catch_up()
        #: Called after every save (the context tells the other gateway processes).
        #: Its argument says whether a team's members changed (what open WebSocket
        #: subscriptions must be checked again for); sign-ins and the rest do not.
        self.on_changed: Callable[[bool], None] = lambda _teams: None

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        recordings = super().save(*objs, **kwargs)
        self.index.record(recordings)
        self.on_changed(any(isinstance(r.domain_event, Team.Event) for r in recordings))
        return recordings

    @property
    def registration(self) -> str:
        instance = self.index.instance
        return (instance.registration if instance else None) or self.registration_default

    def register(
        self, username: str, password: str, email: str | None, invite_code: str | None = None
    ) -> User:
        """The first account of an empty instance becomes its admin, whatever the mode;
        afterwards ``closed`` refuses, ``invite`` takes a single-use code, ``open`` any."""
        with self._writes:
            user_id = user_id_for(username)
            if user_id in self.repository:
                raise self._taken(username)
            first = self.index.instance is None and not self.index.people()
            user = User(
                id=user_id, username=username, email=email, password_hash=hash_password(password)
            )
            claims: list[Aggregate] = []
            if first:
                user.set_admin(True, "first account")
                claims.append(Instance(id=INSTANCE_ID, first_admin=str(user_id)))
            elif self.registration == "closed":
                raise CommandError(
                    ErrorCode.FORBIDDEN,
                    "registration is closed; ask an admin for an account",
                )
            elif self.registration == "invite":
                claims.append(self._use_invite(invite_code, str(user_id)))
            try:
                self.save(user, *claims)
            except IntegrityError:
                if first and user_id not in self.repository:  # another claimed it first
                    raise CommandError(
                        ErrorCode.CONFLICT, "another account was registered first; try again"
                    ) from None
                raise self._taken(username) from None
            return user

    def _use_invite(self, code: str | None, user_id: str) -> Invite:
        if not code:
            raise CommandError(ErrorCode.FORBIDDEN, "registration needs an invite code")
        try:
            invite: Invite = self.repository.get(invite_id_for(code))
        except AggregateNotFoundError:
            invite = None  # type: ignore[assignment]
        if invite is None or invite.used_by is not None or invite.expires_at <= datetime.now(UTC):
            raise CommandError(ErrorCode.FORBIDDEN, "this invite code is unknown, used or expired")
        invite.use(user_id)
        return invite

    def authenticate(self, username: str, password: str) -> User:
        user = self.find(user_id_for(username))
        if not verify_password(user.password_hash if user else None, password) or user is None:
            raise unauthorized("invalid username or password")
        if user.disabled:
            raise unauthorized("this account is disabled; ask an admin")
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
            if user.disabled:
                raise unauthorized("this account is disabled; ask an admin")
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
