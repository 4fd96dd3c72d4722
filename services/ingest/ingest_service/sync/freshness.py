"""Freshness: seconds from a file's write to its chunks being searchable.

The coordinator tells which operation a batch of changes started (``expect``); when
that operation completes (its ``OperationCompleted`` on the bus), each change's age is
observed in ``semantik_freshness_seconds``, labelled by the trigger.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from semantik_contracts import EventEnvelope
from semantik_contracts.subjects import event_filter
from semantik_runtime.bus import Bus
from semantik_runtime.metrics import FRESHNESS_SECONDS

log = logging.getLogger(__name__)

#: Writes remembered per operation, and operations remembered (oldest dropped first).
_MAX_WRITES = 1000
_MAX_OPERATIONS = 1000
_ENDS = ("OperationCompleted", "OperationFailed", "OperationCancelled")


class Freshness:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.pending: OrderedDict[str, tuple[str, list[float]]] = OrderedDict()
        self._subscriptions: list[Subscription] = []

    def expect(self, operation_id: str, trigger: str, written_at: list[float]) -> None:
        _, known = self.pending.get(operation_id, (trigger, []))
        room = max(_MAX_WRITES - len(known), 0)
        self.pending[operation_id] = (trigger, known + written_at[:room])
        while len(self.pending) > _MAX_OPERATIONS:
            self.pending.popitem(last=False)

    async def start(self) -> None:
        for event_type in _ENDS:
            subject = event_filter(aggregate_type="operation", event_type=event_type)
            self._subscriptions.append(await self.bus.nc.subscribe(subject, cb=self._ended))

    async def close(self) -> None:
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        self._subscriptions.clear()

    async def _ended(self, msg: Msg) -> None:
        try:
            envelope = EventEnvelope.model_validate_json(msg.data)
        except ValueError:
            return
        found = self.pending.pop(str(envelope.aggregate_id), None)
        if found is None or envelope.event.type != "OperationCompleted":
            return
        trigger, written = found
        done = envelope.occurred_at.timestamp()
        for at in written:
            FRESHNESS_SECONDS.labels(trigger).observe(max(done - at, 0.0))
