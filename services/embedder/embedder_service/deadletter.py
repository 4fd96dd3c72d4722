"""Dead letters for work that never came back: ``EmbeddingFailed`` from JetStream's
max-deliveries advisory.

The worker reports a message that fails on its last delivery itself. This covers the
rest: a message whose every delivery ran out its ack wait (the embedder was killed
mid-batch each time, say). JetStream stops delivering it and announces that on an
advisory subject; the message itself stays in the work-queue stream until removed.
"""

from __future__ import annotations

import json
import logging

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from semantik_contracts.subjects import WORK_STREAM, embed_consumer_name, max_deliveries_advisory
from semantik_contracts.work import EmbedChunks
from semantik_runtime.bus import Bus

from .jobs import failed_event

log = logging.getLogger(__name__)


async def follow_dead_letters(bus: Bus, slug: str) -> Subscription:
    """Turn each max-deliveries advisory of the model's consumer into ``EmbeddingFailed``."""
    consumer = embed_consumer_name(slug)

    async def on_advisory(advisory: Msg) -> None:
        try:
            info = json.loads(advisory.data)
            sequence = int(info["stream_seq"])
            deliveries = int(info.get("deliveries", 0))
        except (ValueError, KeyError, TypeError):
            log.error("unreadable max-deliveries advisory: %r", advisory.data[:200])
            return
        try:
            stored = await bus.js.get_msg(WORK_STREAM, sequence)
        except NotFoundError:
            return  # settled meanwhile (the worker terminated it after reporting it)
        try:
            work = EmbedChunks.model_validate_json(stored.data or b"")
        except ValidationError:
            log.error("work message %d is not EmbedChunks; removed", sequence)
        else:
            reason = (
                f"not embedded after {deliveries} deliveries: "
                "the embedder stopped or timed out each time"
            )
            await bus.publish_event(failed_event(work, reason))
            log.error("work %s dead-lettered: %s", work.work_id, reason)
        await bus.js.delete_msg(WORK_STREAM, sequence)

    async def handle(advisory: Msg) -> None:
        try:
            await on_advisory(advisory)
        except Exception:
            log.exception("handling a max-deliveries advisory of %s failed", consumer)

    # A queue group: with several embedders of a model, one of them reports each message.
    return await bus.nc.subscribe(
        max_deliveries_advisory(WORK_STREAM, consumer), queue=f"{consumer}-dead-letters", cb=handle
    )
