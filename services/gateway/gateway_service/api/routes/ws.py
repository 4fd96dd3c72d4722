"""``/ws``: live collection and operation events (protocol in ``realtime.py``).

The access token comes as ``?token=…`` or as a subprotocol ``access_token.<jwt>``
(browsers cannot set headers on a WebSocket). A bad token is answered by closing with
1008 (policy violation) right after the handshake, so that the client can read why. An
open socket is closed the same way when its token expires or its session is signed out.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from ...realtime import POLICY_VIOLATION, TRY_AGAIN_LATER, LiveSession
from ...security import InvalidToken
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
        claims = context.tokens.verify_access(token or "")
    except InvalidToken:
        await websocket.close(POLICY_VIOLATION, "a valid access token is required")
        return
    if context.auth.session_ended(claims.session_id):
        await websocket.close(POLICY_VIOLATION, "this session has ended (signed out)")
        return
    if context.backend is None:
        await websocket.close(TRY_AGAIN_LATER, "the gateway is not connected yet")
        return
    session = LiveSession(
        websocket,
        context.backend,
        claims.user_id,
        context.settings,
        expires_at=claims.expires_at,
        session_ended=lambda: context.auth.session_ended(claims.session_id),
    )
    await session.run()
