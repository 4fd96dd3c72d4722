"""The web UI at ``/``: the single-page app built from ``web/`` into ``static/app``.

Client routes (``/collections/…``, including a document's view, ``/search``,
``/operations``, ``/webhooks``, ``/api-keys``, ``/admin``) answer the app's ``index.html``;
its hashed ``/assets/…`` are cached for a year (a new build has new names). Without a
build, ``/`` says how to make one instead of failing.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

APP_DIR = Path(str(files("gateway_service").joinpath("static/app")))
#: Paths the app routes itself; everything else stays the API's (404 as JSON).
CLIENT_ROUTES = (
    "/",
    "/login",
    "/search",
    "/operations",
    "/webhooks",
    "/api-keys",
    "/admin",
    "/collections/{rest:path}",
)

#: Plain: the Content-Security-Policy allows no inline style (security_headers.py).
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Semantik</title></head>
<body>
<h1>Semantik</h1>
<p>The web UI is not built. Build it with <code>make setup</code> (or
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>) and reload this page.</p>
<p>The API is served meanwhile: <a href="/docs">/docs</a>.</p>
</body></html>
"""


class HashedAssets(StaticFiles):
    """Vite's output names carry a content hash, so a cached copy is never stale."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def install_web_ui(app: FastAPI, app_dir: Path = APP_DIR) -> None:
    """Serve the built app from ``app_dir``, or the page that says how to build it."""
    index_file = app_dir / "index.html"
    built = index_file.is_file()
    if built and (app_dir / "assets").is_dir():
        app.mount("/assets", HashedAssets(directory=app_dir / "assets"), name="assets")

    async def web_ui() -> HTMLResponse:
        if not built:
            return HTMLResponse(NOT_BUILT)
        # Read on each request: a rebuild while the gateway runs is served at once, and
        # the page itself is never cached (it names the current assets).
        return HTMLResponse(
            index_file.read_text(encoding="utf-8"), headers={"Cache-Control": "no-cache"}
        )

    for route in CLIENT_ROUTES:
        app.add_api_route(route, web_ui, methods=["GET"], include_in_schema=False)
