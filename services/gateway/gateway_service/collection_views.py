"""The collections' views a gateway keeps for search, so that a search of collections it
resolved before needs no round trip to the collections service.

A search needs each collection's owner (404/403 otherwise), model and active
generation. The views the collections service answered are kept per user and
collection, and a view is dropped as soon as anything happens to its collection:

- every event of the collection on the bus drops it (a core NATS subscription to the
  Collection aggregate's events). The collections service folds what it saves into
  the read model that answers ``GetCollections`` before the outbox relay publishes the
  events, so a view asked for after the event is current;
- every command this gateway forwards about the collection drops it, so this gateway's
  own client never waits for the event to see what it just did;
- a view asked for while any collection changed is not kept (it may predate the
  change), and after the connection to NATS was lost, when events may have been missed,
  every view is dropped.

Refusals (404, 403) are never kept: the collections service says them every time.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from uuid import UUID

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from semantik_contracts.subjects import event_filter
from semantik_contracts.views import CollectionView
from semantik_runtime.bus import Bus

log = logging.getLogger(__name__)

#: The aggregate type in the subjects of a collection's own events.
COLLECTION_AGGREGATE = "collection"

#: Collections whose views are kept at most; past it the oldest are dropped first.
MAX_COLLECTIONS = 10_000


class CollectionViews:
    """Views by collection and user, dropped on their collection's events."""

    def __init__(self, bus: Bus, max_collections: int = MAX_COLLECTIONS) -> None:
        self.bus = bus
        self.max_collections = max_collections
        self._views: dict[UUID, dict[str, CollectionView]] = {}
        # Counts the drops: views asked for across one are not kept.
        self._changes = 0
        self._reconnects = 0
        self._subscription: Subscription | None = None

    async def follow(self) -> None:
        """Drop views on their collection's events from now on (idempotent)."""
        if self._subscription is not None:
            return
        self._subscription = await self.bus.nc.subscribe(
            event_filter(aggregate_type=COLLECTION_AGGREGATE), cb=self._heard
        )
        await self.bus.nc.flush()  # on the server before any view is kept
        self._reconnects = self.bus.nc.stats["reconnects"]
        self.clear()

    async def stop(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        self.clear()

    async def _heard(self, msg: Msg) -> None:
        # semantik.evt.<collection_id>.collection.<collection_id>.<EventName>
        try:
            collection_id = UUID(msg.subject.split(".")[2])
        except (ValueError, IndexError):
            log.warning("a collection event on an unexpected subject: %s", msg.subject)
            self.clear()
            return
        self.drop(collection_id)

    def token(self) -> int:
        """Taken before asking for views: ``keep`` keeps them only if no view was
        dropped in between."""
        return self._changes

    def get(self, actor: str, collection_ids: Iterable[UUID]) -> list[CollectionView] | None:
        """``actor``'s kept views of ``collection_ids``, in order; None unless all are."""
        if self._subscription is None:
            return None
        reconnects = self.bus.nc.stats["reconnects"]
        if reconnects != self._reconnects:  # events may have been missed meanwhile
            self._reconnects = reconnects
            self.clear()
            return None
        views = []
        for collection_id in collection_ids:
            view = self._views.get(collection_id, {}).get(actor)
            if view is None:
                return None
            views.append(view)
        return views

    def keep(self, actor: str, views: Iterable[CollectionView], token: int) -> None:
        """Keep ``actor``'s ``views``, unless a view was dropped since ``token``."""
        if self._subscription is None or token != self._changes:
            return
        for view in views:
            self._views.setdefault(view.id, {})[actor] = view
        while len(self._views) > self.max_collections:
            del self._views[next(iter(self._views))]

    def drop(self, collection_id: UUID) -> None:
        """Forget every user's view of ``collection_id``."""
        self._changes += 1
        self._views.pop(collection_id, None)

    def clear(self) -> None:
        self._changes += 1
        self._views.clear()
