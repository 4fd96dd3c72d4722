"""Security headers on every HTTP response (SPEC §11, browser sessions).

The web UI is Vite's output: external scripts and stylesheets only, so the page runs
under ``default-src 'self'`` with no ``'unsafe-inline'``. React's ``style={…}`` props
are set through the CSSOM, which a CSP does not govern, so ``style-src`` needs nothing
more either. ``connect-src 'self'`` also covers the WebSocket of the same origin
(``ws:``/``wss:`` to the page's host match ``'self'`` in CSP Level 3 browsers).
``img-src`` adds ``data:`` for the page's empty favicon (``<link rel="icon" href="data:,">``).

The API documentation (``/docs``, ``/redoc``) is FastAPI's: an inline script and the
Swagger UI / ReDoc bundles from a CDN. It gets a policy of its own that allows exactly
that; it shows no user content, so its inline script is no injection point.

A pure ASGI middleware (``BaseHTTPMiddleware`` would buffer responses); a header a
route set itself is kept.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; "
    "form-action 'self'; img-src 'self' data:; connect-src 'self'"
)
#: FastAPI's Swagger UI and ReDoc pages: jsDelivr bundles, one inline script, its logo.
DOCS_POLICY = (
    "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; connect-src 'self'"
)
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # For browsers without CSP frame-ancestors; both refuse every framing page.
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """ASGI middleware: CSP, nosniff, Referrer-Policy and X-Frame-Options."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"] in DOCS_PATHS else CONTENT_SECURITY_POLICY

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in {"Content-Security-Policy": policy, **COMMON}.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
