"""The webhook registry (``webhooks.py``) on the gateway's real event store (SQLite): what
the owner and the delivery worker change, what a second process sees, and that the
account index folds the same log undisturbed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from gateway_service.users import UsersApplication
from gateway_service.webhooks import Webhooks
from semantik_runtime.errors import CommandError
from semantik_runtime.eventstore import event_store_env
from standardwebhooks import Webhook as Signer

pytestmark = [pytest.mark.unit]

URL = "https://hooks.example.org/semantik"


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[tuple[UsersApplication, UsersApplication]]:
    """Two gateway processes over one store."""
    first = UsersApplication(env=event_store_env("gateway", None, tmp_path))
    second = UsersApplication(env=event_store_env("gateway", None, tmp_path))
    yield first, second
    first.close()
    second.close()


def test_the_owner_creates_pauses_activates_and_deletes(
    apps: tuple[UsersApplication, UsersApplication],
) -> None:
    app, other = apps
    hooks, replica = Webhooks(app, max_per_user=2), Webhooks(other, max_per_user=2)
    heard: list[int] = []
    replica.add_listener(lambda: heard.append(1))
    owner, stranger = uuid4(), uuid4()
    made = hooks.create(owner, URL, ["OperationCompleted", "OperationCompleted"], None, "ci")
    assert made.events == ("OperationCompleted",) and made.active
    assert made.secret.startswith("whsec_")
    signed = Signer(made.secret).sign(made.id.hex, datetime.now(UTC), '{"a": 1}')
    assert signed.startswith("v1,")  # the secret is one standardwebhooks accepts
    everything = hooks.create(owner, URL, ["OperationCompleted", "*"], [uuid4()])
    assert everything.events == ("*",)
    with pytest.raises(CommandError, match="2 webhooks, the most allowed"):
        hooks.create(owner, URL, ["*"], None)
    # Another process sees them after catching up, newest first, secret included.
    assert [v.id for v in replica.of_owner(owner)] == [everything.id, made.id]
    assert replica.get(made.id) == made and heard
    assert replica.of_owner(stranger) == []
    for change in (
        lambda: hooks.set_active(stranger, made.id, False),
        lambda: hooks.delete(stranger, made.id),
    ):
        with pytest.raises(CommandError, match="not found"):
            change()
    assert not hooks.set_active(owner, made.id, False).active
    assert [v.id for v in replica.active()] == [everything.id]
    assert hooks.set_active(owner, made.id, True).active
    hooks.delete(owner, made.id)
    assert hooks.get(made.id) is None and replica.owned(owner, everything.id)
    with pytest.raises(CommandError, match="not found"):
        replica.owned(owner, made.id)
    # The account index folds the same log without tripping over webhooks.
    app.index.catch_up()
    other.index.catch_up()


def test_the_worker_reports_failure_recovery_and_deactivation(
    apps: tuple[UsersApplication, UsersApplication],
) -> None:
    app, other = apps
    hooks, replica = Webhooks(app, max_per_user=20), Webhooks(other, max_per_user=20)
    owner = uuid4()
    hook = hooks.create(owner, URL, ["*"], None)
    start = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    hooks.mark_failing(hook.id, start, "HTTP 500")
    hooks.mark_failing(hook.id, start + timedelta(hours=1), "HTTP 502")  # already: kept
    failing = replica.active()[0]
    assert failing.failing_since == start and failing.last_failure == "HTTP 500"
    hooks.mark_delivered(hook.id, start + timedelta(hours=2))
    recovered = hooks.get(hook.id)
    assert recovered is not None and recovered.failing_since is None
    assert recovered.last_delivery_at == start + timedelta(hours=2)
    position = app.recorder.max_notification_id() or 0
    for seconds in range(0, 600, 5):  # a delivery every 5 s for 10 minutes
        hooks.mark_delivered(hook.id, start + timedelta(hours=2, seconds=seconds + 5))
    assert (app.recorder.max_notification_id() or 0) - position == 10  # one a minute
    hooks.mark_failing(hook.id, start + timedelta(hours=3), "connection refused")
    reason = "failing since 2026-12-05T06:00:00Z for 24 h (last: connection refused)"
    hooks.deactivate(hook.id, reason)
    hooks.deactivate(hook.id, "again")  # already off: kept
    assert replica.active() == []  # caught up
    off = replica.get(hook.id)
    assert off is not None and not off.active and off.deactivated_reason == reason
    again = hooks.set_active(owner, hook.id, True)  # the owner's fix
    assert again.active and again.failing_since is None and again.deactivated_reason is None
    paused = hooks.set_active(owner, hook.id, False)
    assert paused.deactivated_reason is None  # the owner paused it: no system reason
    # A restarted process folds the same state from the log (and its snapshots).
    restarted = Webhooks(UsersApplication(env=app.env), max_per_user=20)
    assert restarted.get(hook.id) == hooks.get(hook.id)
    restarted.app.close()
