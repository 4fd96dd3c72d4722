"""Every router of the gateway, under its version prefix."""

from __future__ import annotations

from fastapi import APIRouter

from .routes import (
    access,
    accounts,
    api_keys,
    asyncapi,
    audit,
    auth,
    collections,
    column_sets,
    document,
    document_content,
    document_retry,
    documents,
    health,
    metrics,
    operations,
    search,
    source_roots,
    sources,
    teams,
    uploads,
    webhook_deliveries,
    webhooks,
    ws,
)

api_v1 = APIRouter(prefix="/api/v1")
for v1 in (auth, accounts, teams, api_keys, source_roots):
    api_v1.include_router(v1.router)

api_v2 = APIRouter(prefix="/api/v2")
for module in (
    collections,
    access,
    sources,
    column_sets,
    uploads,
    document_retry,
    documents,
    document,
    document_content,
    operations,
    search,
    audit,
    webhook_deliveries,
    webhooks,
):
    api_v2.include_router(module.router)

api_router = APIRouter()
api_router.include_router(api_v1)
api_router.include_router(api_v2)
api_router.include_router(health.router)
api_router.include_router(ws.router)
api_router.include_router(asyncapi.router)
api_router.include_router(metrics.router)
