"""``/metrics``: the gateway's Prometheus metrics, and the embed consumers' lag.

The lag of each model's JetStream consumer is read at scrape time, so it is as fresh as
the scrape (the embedders serve the same gauges on their health ports).

Metrics name collections' operations, users' request rates and the deployment's shape:
on a gateway that others reach (bound beyond loopback) a scraper must present
``SEMANTIK_METRICS_TOKEN`` as a bearer token. Without a token configured there, the
gateway still starts (compose and Kubernetes bind 0.0.0.0) but ``/metrics`` answers 403
saying what to set. On loopback it is open unless a token is configured.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response
from semantik_runtime.metrics import CONTENT_TYPE, exposition, observe_consumer_lag

from ...config import GatewaySettings
from ..deps import ContextDep

router = APIRouter(tags=["meta"])


def check_scraper(settings: GatewaySettings, authorization: str | None) -> None:
    """Refuse a scrape the settings do not allow (401 or 403)."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if token is None:
        if settings.on_loopback:
            return
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"/metrics is closed on {settings.host}: set SEMANTIK_METRICS_TOKEN and have "
            "the scraper send it as 'Authorization: Bearer <token>'",
        )
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), token.encode()
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "/metrics needs 'Authorization: Bearer <SEMANTIK_METRICS_TOKEN>'",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, context: ContextDep) -> Response:
    check_scraper(context.settings, request.headers.get("authorization"))
    if context.bus is not None and context.bus.nc.is_connected:
        await observe_consumer_lag(context.bus.js)
    return Response(exposition(), media_type=CONTENT_TYPE)
