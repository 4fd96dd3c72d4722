"""Following an operation to its end over the WebSocket, with a progress bar, and
ingesting a record file into a collection of its own (``semantik eval``, ``bench search``)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import websockets

from .client import ApiError, SemantikClient

ENDINGS = ("OperationCompleted", "OperationFailed", "OperationCancelled")
TERMINAL = ("completed", "failed", "cancelled")


async def follow_operation(
    client: SemantikClient, operation: dict[str, Any], label: str
) -> tuple[str, dict[str, Any]]:
    """Show the operation's progress until it ends; return how it ended and its final state."""
    from tqdm import tqdm

    bar = tqdm(total=0, unit="chunk", desc=label, file=sys.stderr)

    def show(message: dict[str, Any]) -> None:
        if message.get("type") == "OperationProgressed":
            data = message.get("data", {})
            bar.total = data.get("total", 0) or bar.total
            bar.n = data.get("processed", 0)
            bar.refresh()

    if operation.get("status") in TERMINAL:
        final: dict[str, Any] = await client.call("GET", f"/api/v2/operations/{operation['id']}")
    else:  # the final state, once the ending came over the WebSocket
        final = await operation_end(client, str(operation["id"]), show)
    bar.total = final.get("total") or bar.total
    bar.n = final.get("processed", 0)
    bar.close()
    return "Operation" + str(final["status"]).capitalize(), final


class IngestFailed(Exception):
    """An ingest operation that did not complete; the message says how it ended."""


async def ingest_records(
    client: SemantikClient, name: str, records: Path, label: str
) -> dict[str, Any]:
    """Collection ``name`` (created if missing) holding the BEIR-style records of
    ``records`` (id ``_id``, text columns ``title`` and ``text``), ingested through the
    real pipeline; returns the collection as the API shows it once ingest has ended.

    Indexed before (a kept data dir or a server): the records are scanned again, which
    skips unchanged ones, or the operation an interrupted run left running is followed.
    """
    collection = await client.collection_by_name(name)
    if collection is None:
        collection = await client.call("POST", "/api/v2/collections", json={"name": name})
    cid = str(collection["id"])
    source = {"path": str(records), "text_columns": ["title", "text"], "id_column": "_id"}
    try:
        started = await client.call("POST", f"/api/v2/collections/{cid}/sources", json=source)
        operation = started["operation"]
    except ApiError as exc:
        if exc.status != 409 or "already a source" not in exc.detail:
            raise
        operation = await _index_again(client, cid)
    outcome, final = await follow_operation(client, operation, label)
    if outcome != "OperationCompleted":
        raise IngestFailed(f"ended with {outcome}: {final.get('error')}")
    ingested: dict[str, Any] = await client.call("GET", f"/api/v2/collections/{cid}")
    return ingested


async def _index_again(client: SemantikClient, cid: str) -> dict[str, Any]:
    """Scan the collection's sources again, or the operation still running on it."""
    try:
        started: dict[str, Any] = await client.call(
            "POST", f"/api/v2/collections/{cid}/operations/index"
        )
        return started
    except ApiError as exc:
        if exc.status != 409:
            raise
        for status in ("processing", "pending"):
            page = await client.call(
                "GET", f"/api/v2/collections/{cid}/operations", params={"status": status}
            )
            if page["items"]:
                return dict(page["items"][0])
        raise


async def operation_end(
    client: SemantikClient,
    operation_id: str,
    on_message: Callable[[dict[str, Any]], None] = lambda _: None,
) -> dict[str, Any]:
    """Wait for the operation's ending event over the WebSocket (a subscription without
    ``last_seq`` replays the operation's history, so an ending that came first counts);
    return its final state. No polling: the system under a benchmark does no extra work.
    A socket the server closes first (a token that expired, a restart) is opened again."""
    subscribe = {"type": "subscribe_operation", "operation_id": operation_id}
    while True:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in client.events(subscribe):
                on_message(message)
                if message.get("type") in ENDINGS:
                    break
        final: dict[str, Any] = await client.call("GET", f"/api/v2/operations/{operation_id}")
        if final["status"] in TERMINAL:
            return final
        await asyncio.sleep(0.5)  # closed before the end: open it again, not in a hot loop
