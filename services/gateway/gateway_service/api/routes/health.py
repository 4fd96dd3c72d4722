"""``/health`` (the process is alive) and ``/health/ready`` (it can serve requests)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from semantik_contracts.search import DEFAULT_MODEL
from semantik_contracts.subjects import (
    INGEST,
    SEARCH_RPC,
    command_subject,
    embed_query_subject,
    model_slug,
)
from semantik_runtime.bus import Bus

from ..deps import ContextDep

router = APIRouter(prefix="/health", tags=["health"])

OK = "ok"


@router.get("")
async def live() -> dict[str, str]:
    return {"status": OK, "service": "gateway"}


@router.get("/ready", responses={503: {"description": "Names the parts that failed"}})
async def ready(context: ContextDep) -> JSONResponse:
    """200 when NATS is connected, the collections, ingest and search services answer,
    an embedder of every model in use answers (``embedder`` for the default model,
    ``embedder:<model>`` for others), the vector store answers through them, and the
    user store reads; otherwise 503 with what failed."""
    checks: dict[str, str] = {}
    bus, backend = context.bus, context.backend
    if bus is None or backend is None or not bus.nc.is_connected:
        checks["nats"] = "not connected to NATS"
        checks["collections"] = "not checked: no bus"
    else:
        checks["nats"] = OK
        checks["collections"] = await backend.collections_answer() or OK
        checks["vector_store"] = await backend.vector_store_answers() or OK
        # Search, and an embedder of each model in use (query embedding).
        probes = {
            "ingest": command_subject(INGEST, "ValidateSource"),
            "search": SEARCH_RPC,
            "embedder": embed_query_subject(model_slug(DEFAULT_MODEL.name)),
        }
        for slug in await models_in_use(bus):
            probes.setdefault(f"embedder:{slug}", embed_query_subject(slug))
        probes.pop(f"embedder:{model_slug(DEFAULT_MODEL.name)}", None)
        answers = await asyncio.gather(*(bus.answers(s) for s in probes.values()))
        checks.update({name: answer or OK for name, answer in zip(probes, answers, strict=True)})
    try:
        await asyncio.wait_for(asyncio.to_thread(context.users.recorder.max_notification_id), 3.0)
        checks["event_store"] = OK
    except Exception as exc:  # a failing check is a finding, reported below
        checks["event_store"] = f"{type(exc).__name__}: {exc}"
    healthy = all(value == OK for value in checks.values())
    body: dict[str, Any] = {"status": "ready" if healthy else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)


async def models_in_use(bus: Bus) -> list[str]:
    """The models that have embed work queues: each got one when an embedder started."""
    return sorted(await bus.models_served() or ())
