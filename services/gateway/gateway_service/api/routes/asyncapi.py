"""``/api/asyncapi.json``: the AsyncAPI document of the bus (SPEC §7), from the contracts."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter
from semantik_contracts.asyncapi import asyncapi_document

router = APIRouter(tags=["meta"])


@cache
def _document() -> dict[str, Any]:
    return asyncapi_document()


@router.get("/api/asyncapi.json", summary="AsyncAPI 3.0 document of the NATS subjects")
async def asyncapi() -> dict[str, Any]:
    return _document()
