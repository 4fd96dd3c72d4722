"""``GET /api/v2/webhooks/{webhook_id}/deliveries``: a webhook's delivery log, newest
event first (``webhook_log``). Only the webhook's owner sees it; for anyone else the
webhook does not exist (404)."""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, status

from ...webhook_log import Delivery
from ..deps import ContextDep, CurrentUser

router = APIRouter(tags=["webhooks"])


@router.get("/webhooks/{webhook_id}/deliveries")
async def list_deliveries(
    webhook_id: UUID,
    user: CurrentUser,
    context: ContextDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[Delivery]:
    """The latest ``limit`` deliveries: status, attempts, the receiver's last answer."""
    # Another's webhook is not told apart from an unknown one (404).
    await asyncio.to_thread(context.webhooks.owned, UUID(user.user_id), webhook_id)
    if context.deliverer is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the gateway is not connected yet")
    return await context.deliverer.deliveries(webhook_id, limit)
