"""``/metrics``: the gateway's Prometheus metrics, and the embed consumers' lag.

The lag of each model's JetStream consumer is read at scrape time, so it is as fresh as
the scrape (the embedders serve the same gauges on their health ports).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from semantik_runtime.metrics import CONTENT_TYPE, exposition, observe_consumer_lag

from ..deps import ContextDep

router = APIRouter(tags=["meta"])


@router.get("/metrics", include_in_schema=False)
async def metrics(context: ContextDep) -> Response:
    if context.bus is not None and context.bus.nc.is_connected:
        await observe_consumer_lag(context.bus.js)
    return Response(exposition(), media_type=CONTENT_TYPE)
