"""What the gateway records besides users' sign-ins (SPEC §11): teams, API keys, source
roots granted to users or teams, invites, and the instance's own settings. Pure: no I/O.

Each is an event-sourced aggregate in the gateway's store, so every change is kept,
survives a restart and is seen by every gateway replica. Ids that must be unique are
derived (a team's from its name, an invite's from its code), so two concurrent writers
meet a version conflict instead of both succeeding.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event
from semantik_contracts import ErrorCode
from semantik_runtime.errors import CommandError

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
        self.is_admin = False
        self.disabled = False
        #: The CLI's local account (``ensure_operator``): an admin that is no person, so
        #: it never counts as the instance's first account.
        self.operator = False
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

    @event("AdminChanged")
    def set_admin(self, is_admin: bool, changed_by: str) -> None:
        self.is_admin = is_admin

    @event("DisabledChanged")
    def set_disabled(self, disabled: bool, changed_by: str) -> None:
        """Disabling ends every session: sign-ins, refreshes, access tokens and API
        keys are refused from now on (the gateway checks the flag on each request)."""
        self.disabled = disabled
        if disabled:
            self.refresh_tokens.clear()
            self.refresh_expiry.clear()

    @event("PasswordChanged")
    def set_password(self, password_hash: str, changed_by: str) -> None:
        self.password_hash = password_hash

    @event("MarkedOperator")
    def mark_operator(self) -> None:
        self.operator = True
        self.is_admin = True

    def holds_current(self, family_id: UUID, token_id: UUID) -> bool:
        return self.refresh_tokens.get(str(family_id)) == str(token_id)

    def knows_family(self, family_id: UUID) -> bool:
        return str(family_id) in self.refresh_tokens


TEAMS_NAMESPACE = UUID("8d0f9b1e-6f8e-4a57-9a39-0c4f64a3e5b1")
INVITES_NAMESPACE = UUID("b7a4c3f2-2d1e-4c9a-8f36-5e0d9c1a7b24")
#: The one ``Instance`` aggregate: who claimed the instance first, registration mode.
INSTANCE_ID = UUID("1f7e5c9a-3b2d-4e8f-a6c1-9d0b8e7f6a53")


def team_id_for(name: str) -> UUID:
    return uuid5(TEAMS_NAMESPACE, name.casefold())


def invite_id_for(code: str) -> UUID:
    return uuid5(INVITES_NAMESPACE, hashlib.sha256(code.encode()).hexdigest())


class Team(Aggregate):
    @event("TeamCreated")
    def __init__(self, id: UUID, name: str, created_by: str) -> None:
        self.name = name
        self.members: list[str] = []

    def add(self, user_id: str) -> None:
        if user_id not in self.members:
            self._member_added(user_id)

    def remove(self, user_id: str) -> bool:
        if user_id not in self.members:
            return False
        self._member_removed(user_id)
        return True

    @event("MemberAdded")
    def _member_added(self, user_id: str) -> None:
        self.members.append(user_id)

    @event("MemberRemoved")
    def _member_removed(self, user_id: str) -> None:
        self.members.remove(user_id)


class ApiKey(Aggregate):
    """A key for scripts: acts as its owner, narrowed to its scopes and collections.
    Only the SHA-256 of its secret is kept (the secret is 256 random bits: a slow hash
    would add nothing but a cost on every request)."""

    @event("ApiKeyCreated")
    def __init__(
        self,
        id: UUID,
        owner: str,
        name: str,
        secret_sha256: str,
        scopes: list[str],
        collection_ids: list[str] | None,
        expires_at: datetime | None,
    ) -> None:
        self.owner = owner
        self.name = name
        self.secret_sha256 = secret_sha256
        self.scopes = scopes
        self.collection_ids = collection_ids
        self.expires_at = expires_at
        self.revoked = False

    @event("ApiKeyRevoked")
    def revoke(self) -> None:
        self.revoked = True


class SourceRoot(Aggregate):
    """A directory a user or a team may add path sources from (an admin's grant)."""

    @event("SourceRootGranted")
    def __init__(
        self, id: UUID, path: str, user_id: str | None, team_id: str | None, granted_by: str
    ) -> None:
        self.path = path
        self.user_id = user_id
        self.team_id = team_id
        self.revoked = False

    @event("SourceRootRevoked")
    def revoke(self, revoked_by: str) -> None:
        self.revoked = True


class Invite(Aggregate):
    """A single-use registration code (``SEMANTIK_REGISTRATION=invite``)."""

    @event("InviteCreated")
    def __init__(self, id: UUID, expires_at: datetime, created_by: str) -> None:
        self.expires_at = expires_at
        self.used_by: str | None = None

    @event("InviteUsed")
    def use(self, user_id: str) -> None:
        self.used_by = user_id


class Instance(Aggregate):
    """Created by the first account (it becomes the admin): a second claim is a version
    conflict. Also holds the registration mode an admin set, over the configured one."""

    @event("InstanceClaimed")
    def __init__(self, id: UUID, first_admin: str) -> None:
        self.first_admin = first_admin
        self.registration: str | None = None

    @event("RegistrationModeSet")
    def set_registration(self, mode: str, set_by: str) -> None:
        self.registration = mode
