"""``/health`` (the process is alive) and ``/health/ready`` (it can serve requests)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import ContextDep

router = APIRouter(prefix="/health", tags=["health"])

OK = "ok"


@router.get("")
async def live() -> dict[str, str]:
    return {"status": OK, "service": "gateway"}


@router.get("/ready", responses={503: {"description": "Names the parts that failed"}})
async def ready(context: ContextDep) -> JSONResponse:
    """200 when NATS is connected, the collections service answers and the user store
    reads; otherwise 503 with what failed."""
    checks: dict[str, str] = {}
    bus, backend = context.bus, context.backend
    if bus is None or backend is None or not bus.nc.is_connected:
        checks["nats"] = "not connected to NATS"
        checks["collections"] = "not checked: no bus"
    else:
        checks["nats"] = OK
        checks["collections"] = await backend.collections_answer() or OK
    try:
        await asyncio.wait_for(asyncio.to_thread(context.users.recorder.max_notification_id), 3.0)
        checks["event_store"] = OK
    except Exception as exc:  # a failing check is a finding, reported below
        checks["event_store"] = f"{type(exc).__name__}: {exc}"
    healthy = all(value == OK for value in checks.values())
    body: dict[str, Any] = {"status": "ready" if healthy else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)
