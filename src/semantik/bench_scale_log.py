"""A collections event log of a chosen size, written as a real index writes it, for
``semantik bench scale`` (SPEC §14): how the collections service's start-up and memory
grow with history.

The log is written by the collections application itself, driven as the service drives
it: a user's command creates a collection and adds a source (an ``index`` operation),
then the operation process folds ingest's and the embedder's events in, as their bus
handlers would: the scan's start, a ``ScanProgressed`` every 100 files, the scan's
tally, and a ``ChunksEmbedded`` per document, handled in batches of 100 (the
service's consumer folds up to 64 per fetch), each followed by a progress flush (the
service flushes once a second: every 20 to 30 documents at CPU speed, every few hundred
on a GPU). Every other collection is then scanned again unchanged (an
operation with no work: its tally completes it). Each index of ``DOCUMENTS`` documents
writes about 1,030 events, nine tenths of them ``ChunksTallied``; ten collections per
user. Nothing is embedded: only the log is written, with its audit entries and
snapshots, in an hour's work of the real system per 100,000 events or so.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, uuid5

from collections_service.application import CollectionsApplication
from collections_service.operation_process import OperationProcess
from semantik_contracts import OperationType, commands, events
from semantik_contracts.views import OperationView
from semantik_runtime.read_store import read_store

#: Documents of each collection's index operation (one work item each).
DOCUMENTS = 1000
#: ``ChunksEmbedded`` folded in at a time, each batch followed by a progress flush.
BATCH = 100
#: Chunks per document (what ``ChunksEmbedded`` counts; it changes no event's size much).
CHUNKS_PER_DOCUMENT = 3


def _index(process: OperationProcess, operation: OperationView, documents: int) -> None:
    """The events of a scan of ``documents`` new files and their embedding, folded in."""
    ids = {"collection_id": operation.collection_id, "operation_id": operation.id}
    process.on_scan_started(events.ScanStarted(**ids))
    for done in range(BATCH, documents, BATCH):
        stats = events.ScanStats(total_files_found=documents, new_documents=done)
        process.on_scan_progressed(
            events.ScanProgressed(**ids, files_found=documents, files_done=done, stats=stats)
        )
    chunks = documents * CHUNKS_PER_DOCUMENT
    tally = events.ScanStats(
        total_files_found=documents, new_documents=documents, bytes=documents * 4000, chunks=chunks
    )
    process.on_scan_completed(events.ScanCompleted(**ids, stats=tally))
    for first in range(0, documents, BATCH):
        batch = []
        for number in range(first, min(first + BATCH, documents)):
            document = uuid5(operation.id, str(number))
            batch.append(
                events.ChunksEmbedded(
                    **ids,
                    document_id=document,
                    generation=1,
                    chunk_count=CHUNKS_PER_DOCUMENT,
                    work_id=f"{operation.id}:{document}:g1",
                )
            )
        process.on_chunks_embedded_many(batch)
        process.flush_progress()


def _rescan(process: OperationProcess, operation: OperationView, documents: int) -> None:
    """An unchanged folder scanned again: a tally with every file skipped, no work."""
    ids = {"collection_id": operation.collection_id, "operation_id": operation.id}
    process.on_scan_started(events.ScanStarted(**ids))
    stats = events.ScanStats(total_files_found=documents, unchanged_skipped=documents)
    process.on_scan_completed(events.ScanCompleted(**ids, stats=stats))


def write_log(env: dict[str, str], target_events: int) -> int:
    """Write at least ``target_events`` events into the collections event store of
    ``env`` (``event_store_env``), then forget the stored read model, so that the
    service's next start folds the whole log (as after ``projections rebuild``).
    Returns the events written."""
    app = CollectionsApplication(env=env)
    process = OperationProcess(app)
    try:
        number = 0
        while (app.recorder.max_notification_id() or 0) < target_events:
            actor = f"scale-user-{number // 10}"
            collection = app.create_collection(
                commands.CreateCollection(actor=actor, name=f"scale-{number}")
            )
            path = f"/data/scale/{uuid5(NAMESPACE_URL, str(number))}"
            cmd = commands.AddSource(actor=actor, collection_id=collection.id, path=path)
            added = app.add_source(cmd, path, "directory")
            remaining = target_events - (app.recorder.max_notification_id() or 0)
            documents = max(1, min(DOCUMENTS, remaining - 30))
            _index(process, added.operation, documents)
            if number % 2:
                again = app.start_operation(
                    commands.StartOperation(
                        actor=actor, collection_id=collection.id, operation_type=OperationType.INDEX
                    )
                )
                _rescan(process, again, documents)
            number += 1
        written = app.recorder.max_notification_id() or 0
        read_store(app).drop(app.read_model.stored_as)
    finally:
        app.close()
    return written
