"""Has an operation ended (cancelled or failed)? Asked of the stream, so any replica
can tell, whichever of them received the ending."""

from __future__ import annotations

from uuid import UUID

from nats.js.errors import NotFoundError
from semantik_contracts.subjects import EVENTS_STREAM
from semantik_contracts.subjects import event_subject as subject_of
from semantik_runtime.bus import Bus

#: Events that end an operation; a scan of an ended operation stops at the next file.
ENDINGS = ("OperationCancelled", "OperationFailed")


class OperationEndings:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def ended(self, collection_id: UUID, operation_id: UUID) -> bool:
        """Has the operation ended already, by the stream? Sound under the stream's
        retention: an ending is published after its request, by the same relay in log
        order, and the limits remove the oldest first, so while a request is in the
        stream (it was just delivered, or its scan is open) its ending, if any, is there
        too. A replay does not bring back a request older than the retention
        (``OutboxRelay.replay``)."""
        for ending in ENDINGS:
            subject = subject_of(collection_id, "operation", operation_id, ending)
            try:
                await self.bus.js.get_last_msg(EVENTS_STREAM, subject)
            except NotFoundError:
                continue
            return True
        return False
