"""The accounts every request needs, in memory: users, teams, API keys, source roots and
the instance, folded from the gateway's event log (a read model, SPEC §3).

A request is authorised from here without touching the store: whether its user is
disabled, which teams they are in, whether its API key is revoked. What this process
saves is folded at once (``record``); what another gateway process saves arrives with
its ``ACCOUNTS_CHANGED`` message, and a periodic ``catch_up`` covers a lost one.

It also keeps the sessions (refresh families) that ended, by logout, by a replayed
refresh token or by disabling the account, for as long as their access tokens may still
live: a gateway that restarts folds them from the log again and goes on refusing those
tokens (the in-memory announcements between replicas alone would be forgotten).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from semantik_runtime.folding import FoldedLog

from .accounts import ApiKey, Instance, Invite, SourceRoot, Team, User

#: Event names (``accounts.User``) that end sessions.
FAMILY_REVOKED = "RefreshFamilyRevoked"
DISABLED_CHANGED = "DisabledChanged"


class AccountIndex(FoldedLog):
    def __init__(self, app: Application[UUID], access_ttl: timedelta) -> None:
        super().__init__(app)
        #: How long an access token lives: an ended session is kept that long.
        self.access_ttl = access_ttl
        #: Ended session (refresh family) id → when it ended.
        self.ended_sessions: dict[str, datetime] = {}
        self.users: dict[UUID, User] = {}
        self.teams: dict[UUID, Team] = {}
        self.keys: dict[UUID, ApiKey] = {}
        self.roots: dict[UUID, SourceRoot] = {}
        self.invites: dict[UUID, Invite] = {}
        self.instance: Instance | None = None
        self._member_of: dict[str, tuple[str, ...]] = {}

    def _apply(self, domain_event: Any) -> None:
        originator = domain_event.originator_id
        current = (
            self.users.get(originator)
            or self.teams.get(originator)
            or self.keys.get(originator)
            or self.roots.get(originator)
            or self.invites.get(originator)
            or (self.instance if self.instance and self.instance.id == originator else None)
        )
        self._note_ended_sessions(domain_event, current)
        aggregate = domain_event.mutate(current)
        if isinstance(aggregate, User):
            self.users[originator] = aggregate
        elif isinstance(aggregate, Team):
            self.teams[originator] = aggregate
        elif isinstance(aggregate, ApiKey):
            self.keys[originator] = aggregate
        elif isinstance(aggregate, SourceRoot):
            self.roots[originator] = aggregate
        elif isinstance(aggregate, Instance):
            self.instance = aggregate
        elif isinstance(aggregate, Invite):
            self.invites[originator] = aggregate

    def _note_ended_sessions(self, domain_event: Any, current: Any) -> None:
        kind = type(domain_event).__name__
        if kind == FAMILY_REVOKED:
            self.ended_sessions[str(domain_event.family_id)] = domain_event.timestamp
        elif kind == DISABLED_CHANGED and domain_event.disabled and isinstance(current, User):
            # Disabling clears every family: read them before the event does.
            for family in current.refresh_tokens:
                self.ended_sessions[family] = domain_event.timestamp

    def _folded(self) -> None:
        # Sessions whose last access tokens have expired need no refusing any more.
        horizon = datetime.now(UTC) - self.access_ttl
        if any(ended <= horizon for ended in self.ended_sessions.values()):
            self.ended_sessions = {
                family: ended for family, ended in self.ended_sessions.items() if ended > horizon
            }
        member_of: dict[str, list[str]] = {}
        for team in self.teams.values():
            for user_id in team.members:
                member_of.setdefault(user_id, []).append(str(team.id))
        self._member_of = {user: tuple(sorted(teams)) for user, teams in member_of.items()}

    # -- lookups -------------------------------------------------------------------
    def session_ended(self, session_id: str) -> bool:
        """Did this session end while its access tokens may still be alive?"""
        ended = self.ended_sessions.get(session_id)
        return ended is not None and ended > datetime.now(UTC) - self.access_ttl

    def user(self, user_id: str) -> User | None:
        try:
            return self.users.get(UUID(user_id))
        except ValueError:
            return None

    def teams_of(self, user_id: str) -> tuple[str, ...]:
        return self._member_of.get(user_id, ())

    def people(self) -> list[User]:
        """Every account but the operator's (the CLI's local account)."""
        return [u for u in list(self.users.values()) if not u.operator]

    def roots_of(self, user_id: str) -> list[SourceRoot]:
        """The source roots granted to the user or to one of their teams."""
        teams = set(self.teams_of(user_id))
        return [
            root
            for root in list(self.roots.values())
            if not root.revoked and (root.user_id == user_id or root.team_id in teams)
        ]
