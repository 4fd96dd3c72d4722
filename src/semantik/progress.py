"""Following an operation to its end over the WebSocket, with a progress bar, and
ingesting a record file or a directory into a collection of its own (``semantik eval``,
``bench search``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from semantik_contracts import OperationStatus

from .client import TERMINAL, ApiError, Collection, EventFrame, Operation, SemantikClient


async def follow_operation(
    client: SemantikClient, operation: Operation, label: str
) -> tuple[str, Operation]:
    """Show the operation's progress until it ends; return how it ended and its final state."""
    from tqdm import tqdm

    bar = tqdm(total=0, unit="chunk", desc=label, file=sys.stderr)
    if operation.status is OperationStatus.QUEUED:  # the collection is busy: it waits
        bar.set_description(f"{label} (queued, position {operation.queue_position})")

    def show(frame: EventFrame) -> None:
        if frame.type == "OperationRequested":  # its turn came: it starts
            bar.set_description(label)
        counts = frame.data.get("operation", {}) if frame.is_snapshot else frame.data
        if frame.type == "OperationProgressed" or frame.is_snapshot:
            bar.total = counts.get("total", 0) or bar.total
            bar.n = counts.get("processed", 0)
            bar.refresh()

    if operation.status in TERMINAL:
        final = await client.get_operation(operation.id)
    else:  # the final state, once the ending came over the WebSocket
        final = await operation_end(client, operation.id, show)
    bar.total = final.total or bar.total
    bar.n = final.processed
    bar.close()
    return "Operation" + final.status.capitalize(), final


class IngestFailed(Exception):
    """An ingest operation that did not complete; the message says how it ended."""


async def ingest_records(
    client: SemantikClient, name: str, records: Path, label: str
) -> Collection:
    """Collection ``name`` (created if missing) holding the BEIR-style records of
    ``records`` (id ``_id``, text columns ``title`` and ``text``), ingested through the
    real pipeline; returns the collection as the API shows it once ingest has ended.

    Indexed before (a kept data dir or a server): the records are scanned again, which
    skips unchanged ones, or the operation an interrupted run left running is followed.
    """
    return await ingest_source(
        client, name, records, label, text_columns=["title", "text"], id_column="_id"
    )


async def ingest_source(
    client: SemantikClient, name: str, path: Path, label: str, **options: Any
) -> Collection:
    """Collection ``name`` (created if missing) holding the server path ``path`` as a
    source (``options`` as ``add_source`` takes them), as ``ingest_records`` does."""
    collection = await client.collection_by_name(name)
    if collection is None:
        collection = await client.create_collection(name)
    try:
        started = await client.add_source(collection.id, path, **options)
        operation = started.operation
    except ApiError as exc:
        if exc.status != 409 or "already a source" not in exc.detail:
            raise
        operation = await _index_again(client, collection)
    outcome, final = await follow_operation(client, operation, label)
    if outcome != "OperationCompleted":
        raise IngestFailed(f"ended with {outcome}: {final.error}")
    return await client.get_collection(collection.id)


async def _index_again(client: SemantikClient, collection: Collection) -> Operation:
    """Scan the collection's sources again, or the operation still running on it."""
    try:
        return await client.index(collection.id)
    except ApiError as exc:
        if exc.status != 409:
            raise
        for status in ("processing", "pending"):
            page = await client.list_operations(collection.id, status=status)
            if page.items:
                return page.items[0]
        raise


async def operation_end(
    client: SemantikClient,
    operation_id: UUID | str,
    on_event: Callable[[EventFrame], None] | None = None,
) -> Operation:
    """The operation's final state once its ending came over the WebSocket (a
    subscription without ``last_seq`` starts with the operation's current state, so an
    ending that came first counts). No polling: the system under a benchmark does no extra
    work. A socket the server closes first (a token that expired, a restart) is opened
    again and resumed."""
    return await client.wait(str(operation_id), on_event=on_event)
