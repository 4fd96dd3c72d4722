"""``/asyncapi``: the AsyncAPI document of the bus (SPEC §7), from the contracts.

The same document is committed as ``docs/asyncapi.json`` (a test keeps the two equal).
``/api/asyncapi.json`` is its older address.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter
from semantik_contracts.asyncapi import asyncapi_document

router = APIRouter(tags=["meta"])


@cache
def _document() -> dict[str, Any]:
    return asyncapi_document()


@router.get("/asyncapi", summary="AsyncAPI 3.0 document of the NATS subjects and payloads")
async def asyncapi() -> dict[str, Any]:
    """Every subject on the bus with its message schema: what a downstream subscriber
    of ``SEMANTIK_EVENTS`` reads, and every request/reply pair."""
    return _document()


@router.get("/api/asyncapi.json", include_in_schema=False)
async def asyncapi_json() -> dict[str, Any]:
    return _document()
