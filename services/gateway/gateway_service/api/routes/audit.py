"""``/api/v2/audit`` and ``/api/v2/usage``: what the user did and what they hold.

The audit log lists the user's commands, accepted and rejected (seeds 002/004), and what
the system did to their collections (operations completed or failed), newest first.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from semantik_contracts.commands import GetAudit, GetUsage
from semantik_contracts.views import AuditEntry, Page, Usage

from ..deps import BackendDep, CurrentUser

router = APIRouter(tags=["audit"])

Outcome = Literal["accepted", "rejected", "completed", "failed"]


@router.get("/audit")
async def get_audit(
    user: CurrentUser,
    backend: BackendDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    outcome: Outcome | None = None,
) -> Page[AuditEntry]:
    """Who did what and when, and how it ended."""
    query = GetAudit(**user.acting, outcome=outcome, limit=limit, offset=offset)
    return await backend.ask(query, Page[AuditEntry])


@router.get("/usage")
async def get_usage(user: CurrentUser, backend: BackendDep) -> Usage:
    """The user's collections, documents and bytes, against the quotas."""
    return await backend.ask(GetUsage(**user.acting), Usage)
