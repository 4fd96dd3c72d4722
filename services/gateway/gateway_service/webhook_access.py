"""Whether a webhook's owner may read a collection at delivery time (SPEC §11, §13)."""

from __future__ import annotations

import time
from uuid import UUID

from semantik_contracts import ErrorCode, RpcFailure
from semantik_contracts.commands import GetCollection
from semantik_contracts.subjects import COLLECTIONS, command_subject
from semantik_contracts.views import CollectionView
from semantik_runtime.bus import Bus

from .account_index import AccountIndex

#: How long an owner's right to read a collection is trusted without asking again.
ACCESS_CACHE_SECONDS = 5.0
#: Answers kept at most (all are forgotten beyond).
MAX_KNOWN = 10_000


class OwnerAccess:
    """Whether a webhook's owner may read a collection now, asked of the collections
    service and trusted for ``ACCESS_CACHE_SECONDS`` (forgotten at once when access
    changes anywhere)."""

    def __init__(self, bus: Bus, index: AccountIndex, timeout: float) -> None:
        self.bus = bus
        self.index = index
        self.timeout = timeout
        self._known: dict[tuple[str, tuple[str, ...], UUID], tuple[bool, float]] = {}

    def forget(self) -> None:
        self._known.clear()

    async def may_read(self, owner_id: UUID, collection_id: UUID) -> bool:
        """Raises ``RpcFailure`` when the collections service does not answer."""
        owner = self.index.user(str(owner_id))
        if owner is None or owner.disabled:
            return False
        teams = self.index.teams_of(str(owner_id))
        key = (str(owner_id), teams, collection_id)
        known = self._known.get(key)
        if known is not None and time.monotonic() - known[1] < ACCESS_CACHE_SECONDS:
            return known[0]
        query = GetCollection(actor=str(owner_id), teams=list(teams), collection_id=collection_id)
        subject = command_subject(COLLECTIONS, "GetCollection")
        try:
            await self.bus.request(subject, query, CollectionView, timeout=self.timeout)
            readable = True
        except RpcFailure as exc:
            if exc.error.code not in (ErrorCode.NOT_FOUND, ErrorCode.FORBIDDEN):
                raise
            readable = False
        if len(self._known) > MAX_KNOWN:
            self._known.clear()
        self._known[key] = (readable, time.monotonic())
        return readable
