"""The gateway's FastAPI application: ``create_app(settings, bus)``.

Tests and ``semantik run`` hand in a connected ``Bus``; without one, the app connects
to ``NATS_URL`` in its lifespan (that is how ``python -m gateway_service`` runs it).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env
from starlette.routing import Route

from .api import routers
from .bodylimit import BodyLimit
from .config import GatewaySettings
from .context import GatewayContext
from .errors import install_error_handlers
from .mcp_http import McpEndpoint
from .observability import RequestTelemetry
from .security import TokenIssuer, load_jwt_secret, load_operator_credentials
from .security_headers import SecurityHeaders
from .users import UsersApplication
from .webui import install_web_ui

UNTRACED = frozenset({"/health", "/health/ready", "/metrics"})
log = logging.getLogger(__name__)


def create_app(
    settings: GatewaySettings, bus: Bus | None = None, *, users: UsersApplication | None = None
) -> FastAPI:
    """Build the gateway; a given ``bus`` and ``users`` stay the caller's to close."""
    owns_users = users is None
    if users is None:
        env = event_store_env("gateway", settings.database_url, settings.data_dir)
        users = UsersApplication(
            env=env,
            registration=settings.registration,
            access_ttl=timedelta(minutes=settings.access_token_minutes),
        )
    users.ensure_operator(*load_operator_credentials(settings.data_dir))
    if settings.registration == "open" and not settings.on_loopback:
        log.warning(
            "SEMANTIK_REGISTRATION=open on %s: anyone who reaches it may register", settings.host
        )
    if settings.metrics_token is None and not settings.on_loopback:
        log.warning("/metrics on %s answers 403 until SEMANTIK_METRICS_TOKEN is set", settings.host)
    configured = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    tokens = TokenIssuer(
        load_jwt_secret(configured, settings.data_dir),
        settings.access_token_minutes,
        settings.refresh_token_days,
    )
    context = GatewayContext(settings, users, tokens)
    if bus is not None:
        context.attach(bus)
    mcp = McpEndpoint(context)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        own_bus: Bus | None = None
        if context.bus is None:
            own_bus = await Bus.connect(settings.nats_url, "gateway", settings.nats_credentials)
            await own_bus.ensure_streams()
            context.attach(own_bus)
        await context.follow_bus()
        try:
            async with mcp.running():
                yield
        finally:
            await context.stop()
            if context.backend is not None:
                await context.backend.views.stop()
            if own_bus is not None:
                context.detach()
                await own_bus.close()
            if owns_users:
                context.users.close()

    app = FastAPI(
        # FastAPI's own OpenTelemetry: one server span per request (the parent of the
        # bus spans). No per-dependency spans, no OpenTelemetry metrics (Prometheus has
        # them), no log records of validation failures (they could carry a password),
        # and probes and scrapes untraced.
        telemetry={
            "operation_spans": False,
            "metrics": False,
            "logs": False,
            "exclude": lambda scope: scope.get("path") in UNTRACED,
        },
        title="Semantik",
        summary="Self-hosted semantic search: collections, sources, operations, search",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.context = context
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(BodyLimit)
    app.add_middleware(RequestTelemetry)
    # Outermost: error answers of the other middleware carry the headers too.
    app.add_middleware(SecurityHeaders)
    routers.include(app)
    # Before the web UI's routes, which never match /mcp but are the catch-all's place.
    app.router.routes.append(Route("/mcp", mcp, methods=["GET", "POST", "DELETE"]))
    install_web_ui(app)
    return app
