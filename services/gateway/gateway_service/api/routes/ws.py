"""``/ws``: live collection and operation events (protocol in ``realtime.py``).

The access token (or an API key with the ``read`` or ``write`` scope) comes as
``?token=…`` or as a subprotocol ``access_token.<jwt>``
(browsers cannot set headers on a WebSocket). A bad token is answered by closing with
1008 (policy violation) right after the handshake, so that the client can read why. An
open socket is closed the same way when its token expires or its session is signed out.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from ...principals import READ, WRITE, Unauthenticated
from ...realtime import POLICY_VIOLATION, TRY_AGAIN_LATER, LiveSession
from ..deps import ContextDep

router = APIRouter(tags=["live"])

TOKEN_PROTOCOL = "access_token."


def _token_and_protocol(websocket: WebSocket, token: str | None) -> tuple[str | None, str | None]:
    """The token, and the subprotocol to accept (browsers insist on one they offered)."""
    offered: list[str] = list(websocket.scope.get("subprotocols") or [])
    carrying = [p for p in offered if p.startswith(TOKEN_PROTOCOL)]
    others = [p for p in offered if not p.startswith(TOKEN_PROTOCOL)]
    if token is None and carrying:
        token = carrying[0][len(TOKEN_PROTOCOL) :]
    chosen = others[0] if others else (carrying[0] if carrying else None)
    return token, chosen


@router.websocket("/ws")
async def live_events(websocket: WebSocket, context: ContextDep, token: str | None = None) -> None:
    token, protocol = _token_and_protocol(websocket, token)
    await websocket.accept(subprotocol=protocol)
    try:
        principal = context.principals.resolve(token or "")
    except Unauthenticated as exc:
        await websocket.close(POLICY_VIOLATION, f"a valid access token is required: {exc}")
        return
    if principal.scopes is not None and not principal.scopes & {READ, WRITE}:
        await websocket.close(POLICY_VIOLATION, "this API key's scopes do not allow live events")
        return
    if context.auth.session_ended(principal.session_id):
        await websocket.close(POLICY_VIOLATION, "this session has ended (signed out)")
        return
    if context.backend is None:
        await websocket.close(TRY_AGAIN_LATER, "the gateway is not connected yet")
        return

    def lapsed() -> str | None:
        if context.auth.session_ended(principal.session_id):
            return "this session has ended (signed out)"
        return context.principals.still_valid(principal)

    session = LiveSession(
        websocket,
        context.backend,
        principal,
        context.settings,
        expires_at=principal.expires_at,
        lapsed=lapsed,
        current=context.principals.current,
    )
    context.live.add(session)
    try:
        await session.run()
    finally:
        context.live.discard(session)
