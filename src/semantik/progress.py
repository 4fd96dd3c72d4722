"""Following an operation to its end over the WebSocket, with a progress bar."""

from __future__ import annotations

import sys
from typing import Any

from .client import SemantikClient

ENDINGS = ("OperationCompleted", "OperationFailed", "OperationCancelled")


async def follow_operation(
    client: SemantikClient, operation: dict[str, Any], label: str
) -> tuple[str, dict[str, Any]]:
    """Show the operation's progress until it ends; return how it ended and its final state."""
    from tqdm import tqdm

    bar = tqdm(total=0, unit="chunk", desc=label, file=sys.stderr)
    outcome = "unknown"
    if operation.get("status") in ("completed", "failed", "cancelled"):
        outcome = "Operation" + str(operation["status"]).capitalize()
    else:
        subscribe = {"type": "subscribe_operation", "operation_id": operation["id"]}
        async for message in client.events(subscribe):
            data = message.get("data", {})
            kind = message.get("type")
            if kind == "OperationProgressed":
                bar.total = data.get("total", 0) or bar.total
                bar.n = data.get("processed", 0)
                bar.refresh()
            elif kind in ENDINGS:
                outcome = str(kind)
                break
    final: dict[str, Any] = await client.call("GET", f"/api/v2/operations/{operation['id']}")
    bar.total = final.get("total") or bar.total
    bar.n = final.get("processed", 0)
    bar.close()
    return outcome, final
