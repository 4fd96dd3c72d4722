"""The largest request body the gateway reads: 413 beyond it, with a JSON message, before
the rest arrives. Without it, a JSON body of any size was read whole into memory, only
to be refused as invalid afterwards. Uploads are exempt: they are streamed to disk and
stopped at their own limit (``SEMANTIK_UPLOAD_MAX_BYTES``, ``uploads.py``).

(FastAPI's own ``max_body_size`` answers a declared ``Content-Length`` over the limit
with a plain-text body, where every other error of this API is JSON.)
"""

from __future__ import annotations

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The largest request a client has reason to send, 100 paths of 4,096 characters to
#: ``POST .../documents``, is under 2 MiB even in 4-byte characters.
JSON_BODY_MAX_BYTES = 4 << 20


class BodyTooLarge(HTTPException):
    """An HTTPException, so that FastAPI passes it on from reading a route's body."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status.HTTP_413_CONTENT_TOO_LARGE, f"the request body is larger than {limit} bytes"
        )


class BodyLimit:
    """ASGI middleware: request bodies of at most ``max_bytes``, uploads excepted."""

    def __init__(self, app: ASGIApp, max_bytes: int = JSON_BODY_MAX_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].endswith(
            ("/sources/upload", "/sources/uploads")
        ):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = BodyTooLarge(self.max_bytes)
        await JSONResponse({"detail": error.detail}, error.status_code)(scope, receive, send)
