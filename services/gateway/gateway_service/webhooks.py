"""Webhooks (SPEC §13): who wants which events POSTed where, signed with which secret.

Each webhook is an event-sourced aggregate in the gateway's store, beside the accounts
(``accounts.py``), so it survives a restart and every gateway replica sees it: saving
announces ``ACCOUNTS_CHANGED`` like any account change, and the in-memory index here
(``WebhookIndex``) catches up with the log before it answers. The delivery worker reads
``active()`` and reports back with ``mark_failing``, ``mark_delivered`` and
``deactivate``; the routes use ``create``, ``set_active`` and ``delete``. Every method
but the views' is synchronous (the event store blocks): call it in a thread.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, CanInitAggregate, MutableOrImmutableAggregate, event
from eventsourcing.persistence import IntegrityError
from semantik_contracts import ErrorCode
from semantik_runtime.errors import CommandError, not_found
from semantik_runtime.folding import FoldedLog

#: Standard Webhooks secrets: ``whsec_`` + base64 of the key bytes.
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
ALL_EVENTS = "*"
#: ``last_delivery_at`` is recorded at most this often (a busy webhook's log stays small).
DELIVERED_EVERY = timedelta(minutes=1)
#: Events between snapshots of a webhook (its deliveries add one a minute at most).
SNAPSHOT_EVERY = 50


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class Webhook(Aggregate):
    class Event(Aggregate.Event):
        def mutate(self, aggregate: Any) -> Any:
            # The account index folds the same log without keeping webhooks: it hands
            # every later event of one a None, which is nothing to change, not an error.
            if aggregate is None and not isinstance(self, CanInitAggregate):
                return None
            return super().mutate(aggregate)

    @event("WebhookCreated")
    def __init__(
        self,
        id: UUID,
        owner: str,
        url: str,
        events: list[str],
        collection_ids: list[str] | None,
        description: str,
        secret: str,
    ) -> None:
        self.owner = owner
        self.url = url
        self.events = events
        self.collection_ids = collection_ids
        self.description = description
        self.secret = secret
        self.active = True
        self.failing_since: datetime | None = None
        self.last_failure: str | None = None
        self.deactivated_reason: str | None = None
        self.last_delivery_at: datetime | None = None
        self.deleted = False

    @event("WebhookPaused")
    def pause(self, by: str) -> None:
        self.active = False
        self.deactivated_reason = None

    @event("WebhookActivated")
    def activate(self, by: str) -> None:
        """Back on, with a clean slate: the failure that deactivated it is forgotten."""
        self.active = True
        self.failing_since = None
        self.last_failure = None
        self.deactivated_reason = None

    @event("WebhookFailing")
    def fail(self, since: datetime, last: str) -> None:
        self.failing_since = since
        self.last_failure = last

    @event("WebhookRecovered")
    def recover(self, at: datetime) -> None:
        self.failing_since = None
        self.last_failure = None
        self.last_delivery_at = at

    @event("WebhookDelivered")
    def delivered(self, at: datetime) -> None:
        self.last_delivery_at = at

    @event("WebhookDeactivated")
    def deactivate(self, reason: str) -> None:
        self.active = False
        self.deactivated_reason = reason

    @event("WebhookDeleted")
    def delete(self, by: str) -> None:
        self.active = False
        self.deleted = True


@dataclass(frozen=True)
class WebhookView:
    id: UUID
    owner_id: UUID
    url: str
    events: tuple[str, ...]  # ("*",) = all
    collection_ids: tuple[UUID, ...] | None  # None = every collection the owner may read
    description: str
    secret: str  # "whsec_…"
    active: bool
    created_at: datetime
    failing_since: datetime | None
    deactivated_reason: str | None
    last_delivery_at: datetime | None
    last_failure: str | None = None

    def wants(self, event_type: str, collection_id: UUID | None) -> bool:
        """Whether an event of this type and collection is one it asked for (whether the
        owner may read the collection is the worker's to ask at delivery time)."""
        if ALL_EVENTS not in self.events and event_type not in self.events:
            return False
        return self.collection_ids is None or collection_id in self.collection_ids

    @classmethod
    def of(cls, hook: Webhook) -> WebhookView:
        return cls(
            id=hook.id,
            owner_id=UUID(hook.owner),
            url=hook.url,
            events=tuple(hook.events),
            collection_ids=None
            if hook.collection_ids is None
            else tuple(UUID(c) for c in hook.collection_ids),
            description=hook.description,
            secret=hook.secret,
            active=hook.active,
            created_at=hook.created_on,
            failing_since=hook.failing_since,
            deactivated_reason=hook.deactivated_reason,
            last_delivery_at=hook.last_delivery_at,
            last_failure=hook.last_failure,
        )


class WebhookIndex(FoldedLog):
    """Every live webhook, folded from the gateway's log (other events are passed by)."""

    def __init__(self, app: Application[UUID]) -> None:
        super().__init__(app)
        self._hooks: dict[UUID, Webhook] = {}
        self.views: dict[UUID, WebhookView] = {}
        self.listeners: list[Callable[[], None]] = []
        self._changed = False

    def _apply(self, domain_event: Any) -> None:
        if not isinstance(domain_event, Webhook.Event):
            return
        hook = domain_event.mutate(self._hooks.get(domain_event.originator_id))
        assert isinstance(hook, Webhook)
        if hook.deleted:
            self._hooks.pop(hook.id, None)
            self.views.pop(hook.id, None)
        else:
            self._hooks[hook.id] = hook
            self.views[hook.id] = WebhookView.of(hook)
        self._changed = True

    def _folded(self) -> None:
        if self._changed:
            self._changed = False
            for listener in list(self.listeners):
                listener()


class Webhooks:
    """The webhooks of every user, in ``app``'s store (the gateway's ``UsersApplication``)."""

    def __init__(self, app: Application[UUID], max_per_user: int) -> None:
        self.app = app
        self.max_per_user = max_per_user
        # Its log grows by a delivery a minute at most; snapshots keep loading it short.
        # Set on this application only (a class variable of eventsourcing's).
        intervals: dict[type[MutableOrImmutableAggregate[Any]], int] = {
            **app.snapshotting_intervals
        }
        intervals[Webhook] = SNAPSHOT_EVERY
        app.snapshotting_intervals = intervals  # type: ignore[misc]
        self.index = WebhookIndex(app)
        self.index.catch_up()
        self._writes = threading.Lock()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Called, on whichever thread folded it, after webhooks changed (here or, once
        caught up, on another replica). It runs while the index is locked: it must
        return at once and not call back into the registry (hand over to a loop with
        ``call_soon_threadsafe``)."""
        self.index.listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        if listener in self.index.listeners:
            self.index.listeners.remove(listener)

    def catch_up(self) -> None:
        self.index.catch_up()

    # -- reading -----------------------------------------------------------------------
    def active(self) -> list[WebhookView]:
        """Every active webhook, after catching up with the log (blocks: in a thread)."""
        self.index.catch_up()
        return [view for view in list(self.index.views.values()) if view.active]

    def get(self, webhook_id: UUID) -> WebhookView | None:
        """The webhook as last folded (memory only: safe on the event loop)."""
        return self.index.views.get(webhook_id)

    def of_owner(self, owner_id: UUID) -> list[WebhookView]:
        """The owner's webhooks, newest first."""
        self.index.catch_up()
        mine = [view for view in list(self.index.views.values()) if view.owner_id == owner_id]
        return sorted(mine, key=lambda view: view.created_at, reverse=True)

    def owned(self, owner_id: UUID, webhook_id: UUID) -> WebhookView:
        """The owner's webhook; another's is not told apart from an unknown one (404)."""
        self.index.catch_up()
        view = self.get(webhook_id)
        if view is None or view.owner_id != owner_id:
            raise not_found("webhook", webhook_id)
        return view

    # -- the owner's changes --------------------------------------------------------------
    def create(
        self,
        owner_id: UUID,
        url: str,
        events: Sequence[str],
        collection_ids: Sequence[UUID] | None,
        description: str = "",
    ) -> WebhookView:
        """A new webhook with a new secret (``view.secret``, to be shown this once). The
        URL must have been checked (``webhook_guard``); events are deduplicated."""
        with self._writes:
            if len(self.of_owner(owner_id)) >= self.max_per_user:
                raise CommandError(
                    ErrorCode.CONFLICT,
                    f"you have {self.max_per_user} webhooks, the most allowed; delete one first",
                )
            names = [ALL_EVENTS] if ALL_EVENTS in events else sorted(set(events))
            hook = Webhook(
                id=uuid4(),
                owner=str(owner_id),
                url=url,
                events=names,
                collection_ids=None
                if collection_ids is None
                else sorted({str(c) for c in collection_ids}),
                description=description,
                secret=new_secret(),
            )
            self._save(hook)
            return WebhookView.of(hook)

    def set_active(self, owner_id: UUID, webhook_id: UUID, active: bool) -> WebhookView:
        """Pause, or activate again (which clears the failure state)."""
        self.owned(owner_id, webhook_id)
        by = str(owner_id)
        return self._change(webhook_id, lambda h: h.activate(by) if active else h.pause(by))

    def delete(self, owner_id: UUID, webhook_id: UUID) -> None:
        self.owned(owner_id, webhook_id)
        self._change(webhook_id, lambda h: h.delete(str(owner_id)))

    # -- the delivery worker's reports ----------------------------------------------------
    def mark_failing(self, webhook_id: UUID, since: datetime, last: str) -> None:
        """Failing since ``since`` (``last``: the latest failure); no-op if already."""
        view = self.get(webhook_id)
        if view is None or view.failing_since is not None:
            return
        self._change(webhook_id, lambda h: None if h.failing_since else h.fail(since, last))

    def mark_delivered(self, webhook_id: UUID, at: datetime) -> None:
        """Clears the failure state; records ``last_delivery_at`` at most once a minute."""
        view = self.get(webhook_id)
        if view is None or not _worth_recording(view.failing_since, view.last_delivery_at, at):
            return

        def record(hook: Webhook) -> None:
            if hook.failing_since is not None:
                hook.recover(at)
            elif _worth_recording(None, hook.last_delivery_at, at):
                hook.delivered(at)

        self._change(webhook_id, record)

    def deactivate(self, webhook_id: UUID, reason: str) -> None:
        """Turned off by the system (``reason`` is shown to the owner); no-op if off."""
        view = self.get(webhook_id)
        if view is None or not view.active:
            return
        self._change(webhook_id, lambda h: h.deactivate(reason) if h.active else None)

    # -- the store -------------------------------------------------------------------------
    def _change(self, webhook_id: UUID, change: Callable[[Webhook], object]) -> WebhookView:
        """Apply ``change`` to the stored webhook and save it; a replica that saved first
        is a version conflict, so read again and apply it to that (a few times)."""
        attempts = 3
        while True:
            attempts -= 1
            hook: Webhook = self.app.repository.get(webhook_id)
            if hook.deleted:
                raise not_found("webhook", webhook_id)
            change(hook)
            if not hook.pending_events:
                return WebhookView.of(hook)
            try:
                self._save(hook)
            except IntegrityError:
                if attempts:
                    continue
                raise CommandError(
                    ErrorCode.CONFLICT, f"webhook {webhook_id} changed meanwhile; try again"
                ) from None
            return WebhookView.of(hook)

    def _save(self, hook: Webhook) -> None:
        self.index.record(self.app.save(hook))


def _worth_recording(failing: datetime | None, last: datetime | None, at: datetime) -> bool:
    return failing is not None or last is None or at - last >= DELIVERED_EVERY
