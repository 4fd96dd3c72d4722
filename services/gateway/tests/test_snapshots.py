"""Snapshots of the gateway's long-lived aggregates (SPEC §14) on both event stores: a user
and a team load from their latest snapshot equal to what all their events build."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import project_aggregate
from eventsourcing.domain import Snapshot
from gateway_service.accounts import Team, User
from gateway_service.users import UsersApplication
from semantik_runtime.eventstore import event_store_env

pytestmark = pytest.mark.integration

LATER = datetime.now(UTC) + timedelta(days=1)


def shape(value: Any) -> Any:
    """The type of every part of ``value``."""
    if isinstance(value, dict):
        return (type(value), {key: shape(v) for key, v in value.items()})
    if isinstance(value, list | tuple):
        return (type(value), [shape(v) for v in value])
    return type(value)


def reloaded(env: dict[str, str], aggregate_id: UUID) -> tuple[Any, list[Any]]:
    """The aggregate as a fresh application loads it, with what it read from the stores."""
    read: list[Any] = []

    def counted(events: Iterable[Any]) -> Iterator[Any]:
        for e in events:
            read.append(e)
            yield e

    fresh = UsersApplication(env=env)
    try:
        aggregate = fresh.repository.get(
            aggregate_id,
            projector_func=lambda initial, events: project_aggregate(initial, counted(events)),
        )
    finally:
        fresh.close()
    return aggregate, read


class SnapshotsTenTimesAsOften(UsersApplication):
    """The application with each of its snapshot intervals divided by ten: a history a
    tenth as long crosses as many snapshot points, through the same code."""

    name = UsersApplication.name  # its tables, not a new application's
    snapshotting_intervals = {
        kind: n // 10 for kind, n in UsersApplication.snapshotting_intervals.items()
    }


class SnapshotsContract:
    """Subclasses provide the ``env`` fixture: the eventsourcing environment of one store."""

    @pytest.fixture
    def users(self, env: dict[str, str]) -> Iterator[UsersApplication]:
        app = SnapshotsTenTimesAsOften(env=env)
        yield app
        app.close()

    def assert_loads_from_snapshot(
        self, users: UsersApplication, env: dict[str, str], aggregate_id: UUID, version: int
    ) -> None:
        loaded, read = reloaded(env, aggregate_id)
        assert isinstance(read[0], Snapshot) and read[0].originator_version == version
        expected = project_aggregate(None, users.events.get(aggregate_id))
        assert loaded.__dict__ == expected.__dict__
        assert shape(loaded.__dict__) == shape(expected.__dict__)

    def test_a_user_loads_from_its_snapshot(
        self, users: UsersApplication, env: dict[str, str]
    ) -> None:
        assert users.snapshotting_intervals[User] == 5  # a tenth of its 50
        user = users.register("erin", "correct horse", None)
        family, token = uuid4(), uuid4()
        users.start_session(user.id, family, token, LATER)
        for _ in range(6):
            new = uuid4()
            users.rotate(user.id, family, token, new, LATER)
            token = new
        self.assert_loads_from_snapshot(users, env, user.id, 5)

    def test_a_team_loads_from_its_snapshot(
        self, users: UsersApplication, env: dict[str, str]
    ) -> None:
        assert users.snapshotting_intervals[Team] == 10  # a tenth of its 100
        member = users.register("frank", "correct horse", None)
        team = users.create_team("search", str(member.id))
        for _ in range(6):  # joins and leaves: 12 events after its creation
            users.add_member(team.id, member.id)
            users.remove_member(team.id, member.id)
        users.add_member(team.id, member.id)
        self.assert_loads_from_snapshot(users, env, team.id, 10)


class TestSnapshotsOnSQLite(SnapshotsContract):
    @pytest.fixture
    def env(self, tmp_path: Path) -> dict[str, str]:
        return event_store_env("gateway", None, tmp_path)


class TestSnapshotsOnPostgreSQL(SnapshotsContract):
    @pytest.fixture
    def env(self, database_url: str, tmp_path: Path) -> dict[str, str]:
        return event_store_env("gateway", database_url, tmp_path)
