"""Indexing a record file's rows: decided, chunked and registered in batches.

A record file may hold thousands of rows, each a document. The rows are classified in
one call, skips are recorded together, new rows are chunked on a worker and registered
in atomic batches; anything unusual (a duplicate, a row this operation registered
before it was interrupted, a lost race) goes through the file path's one-by-one
decision (``UnitIndexer.decide``). Rows that vanished from the file, or that now fail,
lose their documents.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from uuid import UUID

from semantik_contracts import SkipReason

from ..application import Action, IngestApplication
from ..extraction.units import RecordFile, Unit
from ..scan_aggregate import Scan
from .unit_indexer import Call, Chunked, Fresh, Remove, UnitIndexer
from .work import WorkGate

#: Rows registered in one atomic save, at most.
REGISTER_BATCH = 500
#: Rows of the first batch; each next one is twice as large, up to REGISTER_BATCH.
FIRST_BATCH = 32


def batch_spans(count: int) -> Iterator[tuple[int, int]]:
    """[start, end) of each batch of ``count`` rows: small first, so the embedders get
    the first rows' work within a moment instead of after 500 rows are chunked (on 2
    cores, about 15 s of an idle embedder at the start of a SciFact-sized file)."""
    start, size = 0, FIRST_BATCH
    while start < count:
        yield start, min(count, start + size)
        start, size = start + size, min(REGISTER_BATCH, 2 * size)


class RecordIndexer:
    def __init__(
        self, app: IngestApplication, units: UnitIndexer, *, call: Call, remove: Remove
    ) -> None:
        self.app = app
        self.units = units
        self.call = call
        self.remove = remove

    async def index(self, scan: Scan, sid: UUID, read: RecordFile, gate: WorkGate) -> None:
        """Decide every row of one record file, publishing each batch's work at once (the
        embedders start on the first rows while the rest are chunked)."""
        app = self.app
        for path, reason in read.failures:
            await self.call(app.note_failure, scan, sid, path, reason)
        units = read.units
        decisions = await self.call(
            app.classify_many, scan, [(unit.path, unit.sha256) for unit in units]
        )
        skips = []
        fresh: list[Fresh] = []
        unusual: list[Unit] = []
        for unit, decision in zip(units, decisions, strict=True):
            if decision.action is Action.UNCHANGED and not scan.is_reindex:
                skips.append((sid, unit.path, SkipReason.UNCHANGED, decision.document_id))
            elif decision.action is Action.NEW:
                stale = decision.stale.id if decision.stale else None
                fresh.append((unit, decision.document_id, stale))
            else:
                unusual.append(unit)
        await self.call(app.note_skips, scan, skips)
        batches = [fresh[start:end] for start, end in batch_spans(len(fresh))]

        def prepare(batch: list[Fresh]) -> asyncio.Task[Chunked]:
            return asyncio.ensure_future(
                self.units.prepare(scan, sid, [(unit, doc) for unit, doc, _ in batch])
            )

        # The next batch is chunked while this one is registered and published.
        upcoming = prepare(batches[0]) if batches else None
        try:
            for index, batch in enumerate(batches):
                assert upcoming is not None
                chunked = await upcoming
                upcoming = prepare(batches[index + 1]) if index + 1 < len(batches) else None
                for message in await self.units.register_group(scan, sid, batch, chunked):
                    await gate.publish(message)
        finally:
            if upcoming is not None:
                upcoming.cancel()
                await asyncio.gather(upcoming, return_exceptions=True)
        for unit in unusual:
            for message in await self.units.decide(scan, sid, unit, None):
                await gate.publish(message)
        await self._retire_vanished(scan, sid, read)
        await self.call(app.flush, scan)

    async def _retire_vanished(self, scan: Scan, sid: UUID, read: RecordFile) -> None:
        present = {unit.path for unit in read.units}
        known = await self.call(self.app.documents_of_source, scan.collection_id, sid)
        gone = [doc for doc in known if doc.file == read.path and doc.path not in present]
        if gone:
            await self.remove(scan, gone)
