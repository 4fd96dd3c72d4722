"""What admins and users manage besides their sign-ins (SPEC §11): accounts, teams,
API keys, source roots and invites. Synchronous (the event store blocks): routes run it
in a thread. Every refusal is a ``CommandError`` that the gateway maps to a 4xx.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError
from semantik_contracts import ErrorCode
from semantik_runtime.errors import CommandError, not_found

from .accounts import (
    INSTANCE_ID,
    ApiKey,
    Instance,
    Invite,
    SourceRoot,
    Team,
    User,
    invite_id_for,
    team_id_for,
    user_id_for,
)
from .security import hash_password, verify_password

if TYPE_CHECKING:
    from .account_index import AccountIndex

#: API keys look like ``smk_<key id, 32 hex>_<secret>``: the id finds the key, the
#: secret proves it.
KEY_PREFIX = "smk_"
REGISTRATION_MODES = ("closed", "invite", "open")


def key_secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


#: How often a replica looks again at an operator account another one saved meanwhile.
OPERATOR_ATTEMPTS = 3


class Administration(Application[UUID]):
    index: AccountIndex
    _writes: threading.Lock

    def find(self, user_id: UUID) -> User | None:
        try:
            user: User = self.repository.get(user_id)
        except AggregateNotFoundError:
            return None
        return user

    def _user(self, user_id: UUID | str) -> User:
        try:
            user = self.find(UUID(str(user_id)))
        except ValueError:
            user = None
        if user is None:
            raise not_found("user", user_id)
        return user

    # -- accounts --------------------------------------------------------------------
    def ensure_operator(self, username: str, password: str) -> User:
        """The CLI's local account (``<data dir>/secrets/cli_credentials.json``): an
        admin that is nobody's person, so sign-up stays closed and the first account to
        register is still the instance's first admin.

        Gateway replicas starting together on one store each ensure it: the one whose
        save comes second finds it saved (a conflict) and looks again."""
        attempt = 1
        while True:
            try:
                return self._ensure_operator(username, password)
            except IntegrityError:
                if attempt == OPERATOR_ATTEMPTS:
                    raise
                attempt += 1

    def _ensure_operator(self, username: str, password: str) -> User:
        with self._writes:
            user = self.find(user_id_for(username))
            if user is None:
                user = User(
                    id=user_id_for(username),
                    username=username,
                    email=None,
                    password_hash=hash_password(password),
                )
            elif not verify_password(user.password_hash, password):
                user.set_password(hash_password(password), "operator credentials file")
            if not user.operator:
                user.mark_operator()
            if user.disabled:
                user.set_disabled(False, "operator credentials file")
            if user.pending_events:
                self.save(user)
            return user

    def create_user(self, username: str, password: str, is_admin: bool, by: str) -> User:
        with self._writes:
            user_id = user_id_for(username)
            if user_id in self.repository:
                raise CommandError(ErrorCode.CONFLICT, f"username {username!r} is already taken")
            user = User(
                id=user_id, username=username, email=None, password_hash=hash_password(password)
            )
            if is_admin:
                user.set_admin(True, by)
            try:
                self.save(user)
            except IntegrityError:
                raise CommandError(
                    ErrorCode.CONFLICT, f"username {username!r} is already taken"
                ) from None
            return user

    def update_user(
        self,
        user_id: UUID,
        by: str,
        *,
        is_admin: bool | None = None,
        disabled: bool | None = None,
        password: str | None = None,
    ) -> User:
        with self._writes:
            user = self._user(user_id)
            if user.operator and (is_admin is False or disabled):
                raise CommandError(
                    ErrorCode.CONFLICT,
                    "the operator account (the CLI's) stays an enabled admin; "
                    "delete <data dir>/secrets/cli_credentials.json to change its password",
                )
            if disabled and str(user.id) == by:
                raise CommandError(ErrorCode.CONFLICT, "you cannot disable your own account")
            if is_admin is not None and is_admin != user.is_admin:
                user.set_admin(is_admin, by)
            if disabled is not None and disabled != user.disabled:
                user.set_disabled(disabled, by)
            if password is not None:
                user.set_password(hash_password(password), by)
            if user.pending_events:
                self.save(user)
            return user

    def set_registration(self, mode: str, by: str) -> str:
        if mode not in REGISTRATION_MODES:
            raise CommandError(ErrorCode.INVALID, f"registration is one of {REGISTRATION_MODES}")
        with self._writes:
            try:
                instance: Instance = self.repository.get(INSTANCE_ID)
            except AggregateNotFoundError:
                instance = Instance(id=INSTANCE_ID, first_admin=by)
            instance.set_registration(mode, by)
            self.save(instance)
            return mode

    def create_invite(self, hours: int, by: str) -> tuple[str, datetime]:
        code = secrets.token_urlsafe(18)
        expires = datetime.now(UTC) + timedelta(hours=hours)
        self.save(Invite(id=invite_id_for(code), expires_at=expires, created_by=by))
        return code, expires

    # -- teams -----------------------------------------------------------------------
    def create_team(self, name: str, by: str) -> Team:
        team = Team(id=team_id_for(name), name=name, created_by=by)
        try:
            self.save(team)
        except IntegrityError:
            raise CommandError(ErrorCode.CONFLICT, f"a team named {name!r} exists") from None
        return team

    def team(self, team_id: UUID | str) -> Team:
        try:
            team: Team = self.repository.get(UUID(str(team_id)))
        except (AggregateNotFoundError, ValueError):
            raise not_found("team", team_id) from None
        if not isinstance(team, Team):
            raise not_found("team", team_id)
        return team

    def add_member(self, team_id: UUID, user_id: UUID) -> Team:
        with self._writes:
            team, user = self.team(team_id), self._user(user_id)
            team.add(str(user.id))
            if team.pending_events:
                self.save(team)
            return team

    def remove_member(self, team_id: UUID, user_id: UUID) -> Team:
        with self._writes:
            team = self.team(team_id)
            if not team.remove(str(user_id)):
                raise not_found("member", f"{user_id} of team {team.name!r}")
            self.save(team)
            return team

    # -- API keys --------------------------------------------------------------------
    def create_api_key(
        self,
        owner: str,
        name: str,
        scopes: list[str],
        collection_ids: list[str] | None,
        expires_at: datetime | None,
    ) -> tuple[ApiKey, str]:
        """The key and its secret, which is shown this once and kept only hashed."""
        key_id, secret = uuid4(), secrets.token_urlsafe(32)
        key = ApiKey(
            id=key_id,
            owner=owner,
            name=name,
            secret_sha256=key_secret_hash(secret),
            scopes=sorted(set(scopes)),
            collection_ids=collection_ids,
            expires_at=expires_at,
        )
        self.save(key)
        return key, f"{KEY_PREFIX}{key_id.hex}_{secret}"

    def revoke_api_key(self, owner: str, key_id: UUID) -> None:
        key = self.index.keys.get(key_id)
        if key is None or key.owner != owner or key.revoked:  # another's key: not told apart
            raise not_found("API key", key_id)
        stored: ApiKey = self.repository.get(key_id)
        stored.revoke()
        self.save(stored)

    # -- source roots ----------------------------------------------------------------
    def grant_source_root(
        self, path: str, user_id: UUID | None, team_id: UUID | None, by: str
    ) -> SourceRoot:
        if (user_id is None) == (team_id is None):
            raise CommandError(ErrorCode.INVALID, "name exactly one of user_id and team_id")
        if user_id is not None:
            self._user(user_id)
        if team_id is not None:
            self.team(team_id)
        root = SourceRoot(
            id=uuid4(),
            path=path,
            user_id=str(user_id) if user_id else None,
            team_id=str(team_id) if team_id else None,
            granted_by=by,
        )
        self.save(root)
        return root

    def revoke_source_root(self, root_id: UUID, by: str) -> None:
        root = self.index.roots.get(root_id)
        if root is None or root.revoked:
            raise not_found("source root", root_id)
        stored: SourceRoot = self.repository.get(root_id)
        stored.revoke(by)
        self.save(stored)
