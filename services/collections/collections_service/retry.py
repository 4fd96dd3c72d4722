"""Retrying a collection's failed documents (seed 002 US2): one ``index`` operation over
the sources that hold them, queued behind a running operation like any other."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from semantik_contracts import CollectionRole, OperationType
from semantik_contracts.retry import RetryFailed
from semantik_contracts.views import OperationView

from .audit import audited
from .operation_queue import queue_position
from .projections import operation_view

if TYPE_CHECKING:
    from .application import CollectionsApplication

Handler = Callable[[Any], Awaitable[BaseModel]]


@audited
def retry_failed(app: CollectionsApplication, cmd: RetryFailed) -> OperationView:
    """An ``index`` of the sources named (each a live source of the collection: 404 or
    403 otherwise), with ``retry`` in its params: the failed documents' ids asked for."""
    sources = [app.source_for(cmd, cmd.collection_id, sid) for sid in dict.fromkeys(cmd.source_ids)]
    collection = app.collection_for(cmd, cmd.collection_id, CollectionRole.EDITOR)
    app.quotas.check_room(collection.name, collection.size_bytes)
    params = {"retry": [str(doc) for doc in cmd.document_ids]}
    operation = app.admission.request(
        collection, OperationType.INDEX, cmd.actor, [s.id for s in sources], params
    )
    app.commit(collection, operation)
    return operation_view(operation, queue_position(collection, operation.id))


def retry_handlers(
    app: CollectionsApplication, direct: Callable[[Callable[[Any], BaseModel]], Handler]
) -> list[tuple[type[BaseModel], Handler]]:
    """The bus handler of ``RetryFailed``, run as the application's commands are."""
    return [(RetryFailed, direct(partial(retry_failed, app)))]
