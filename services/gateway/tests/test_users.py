"""The users application on each event store: one test case, one subclass per store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from gateway_service.users import User, UsersApplication, user_id_for
from semantik_contracts import ErrorCode
from semantik_runtime.errors import CommandError
from semantik_runtime.eventstore import event_store_env

pytestmark = pytest.mark.integration

LATER = datetime.now(UTC) + timedelta(days=1)


class UsersContract:
    """Subclasses provide the ``users`` fixture: the application on one event store."""

    def test_a_name_is_registered_once_in_any_letter_case(self, users: UsersApplication) -> None:
        user = users.register("Alice", "correct horse", None)
        assert user.id == user_id_for("alice")
        with pytest.raises(CommandError) as err:
            users.register("ALICE", "other password", None)
        assert err.value.code is ErrorCode.CONFLICT
        assert users.authenticate("alice", "correct horse").username == "Alice"
        with pytest.raises(CommandError):
            users.authenticate("alice", "other password")

    def test_rotation_and_reuse_detection(self, users: UsersApplication) -> None:
        user = users.register("bob", "correct horse", "bob@example.org")
        family, first, second = uuid4(), uuid4(), uuid4()
        users.start_session(user.id, family, first, LATER)
        users.rotate(user.id, family, first, second, LATER)
        with pytest.raises(CommandError) as err:
            users.rotate(user.id, family, first, uuid4(), LATER)
        assert err.value.code is ErrorCode.UNAUTHORIZED
        reloaded = users.find(user.id)
        assert reloaded is not None and not reloaded.knows_family(family)

    def test_many_rotations_replay_from_snapshots(self, users: UsersApplication) -> None:
        user = users.register("carol", "correct horse", None)
        family, token = uuid4(), uuid4()
        users.start_session(user.id, family, token, LATER)
        for _ in range(120):
            new = uuid4()
            users.rotate(user.id, family, token, new, LATER)
            token = new
        assert users.snapshots is not None
        assert list(users.snapshots.get(user.id))  # the store holds snapshots of User
        reloaded = users.find(user.id)
        assert isinstance(reloaded, User) and reloaded.holds_current(family, token)
        assert reloaded.version == 123  # registered (admin: the first account), 121 sessions

    def test_two_replicas_ensuring_the_operator_at_once_both_start(
        self, users: UsersApplication, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Gateways starting together on one store: the second to save the operator
        account finds it saved, and looks again instead of crashing at start."""
        other = UsersApplication(env=users.env)
        try:
            real, calls = other.find, []

            def find(user_id: UUID) -> User | None:
                calls.append(user_id)  # the first look came before ``users`` saved
                return None if len(calls) == 1 else real(user_id)

            monkeypatch.setattr(other, "find", find)
            first = users.ensure_operator("semantik-cli", "s3cret-password")
            second = other.ensure_operator("semantik-cli", "s3cret-password")
            assert second.id == first.id and second.operator
            assert second.version == first.version  # nothing saved twice
            assert len(calls) == 2  # it looked again after the conflict
        finally:
            other.close()

    def test_expired_sessions_are_forgotten(self, users: UsersApplication) -> None:
        user = users.register("dave", "correct horse", None)
        old, fresh = uuid4(), uuid4()
        users.start_session(user.id, old, uuid4(), datetime.now(UTC) - timedelta(seconds=1))
        users.start_session(user.id, fresh, uuid4(), LATER)
        reloaded = users.find(user.id)
        assert reloaded is not None
        assert not reloaded.knows_family(old) and reloaded.knows_family(fresh)


class TestUsersOnSQLite(UsersContract):
    @pytest.fixture
    def users(self, tmp_path: Path) -> Iterator[UsersApplication]:
        app = UsersApplication(env=event_store_env("gateway", None, tmp_path))
        yield app
        app.close()


class TestUsersOnPostgreSQL(UsersContract):
    @pytest.fixture
    def users(self, database_url: str, tmp_path: Path) -> Iterator[UsersApplication]:
        app = UsersApplication(env=event_store_env("gateway", database_url, tmp_path))
        yield app
        app.close()
