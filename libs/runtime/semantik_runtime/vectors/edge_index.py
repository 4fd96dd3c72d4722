"""The document fields of each point of a Qdrant Edge shard, kept in this process.

A query that returns payloads pays Qdrant Edge about 4 us a point to make them (one
field or three alike), against 0.7 us to hand over the point's id. A search
needs of each chunk only its document's id (to keep a document's best chunk) and, for
its facets, its document's file type, source and MIME type: fields every chunk of a
document shares. So each shard's index answers them from the point's id, and the
queries that ask for no other field return no payload at all. Measured on five
``bench search`` shards (2,666-2,690 chunks each, 2 cores, one query after another):
the five hybrid queries returning 200 points each took p50 9.2 ms with ``document_id``
and 10.3 ms with the facets' two fields as well, against 5.2 ms with no payload.

The index is right whatever order writes and reads come in, because a point's id is
never reused for another document's chunk within a generation (``uuid5(document,
index)``) and every write of this process goes through the store:

- an upsert puts its points' fields in before the engine has them, so a point a
  query can return is already there (a point there but not in the shard is never
  returned);
- the index is filled from a scroll of the shard on first use, which only adds what
  is not there yet, so a write made during the scroll is never undone by it;
- deleting a document takes its points out; a point left behind by a write that
  failed is never returned by the engine.

Filling it takes about 20 us a point (53 ms for a shard of 2,689 chunks), on a thread
of its own, and the store's queries return payloads until it is done. It holds about
200 bytes a point (196 on those shards, 2.7 chunks a document); a shard of more than
``MAX_POINTS`` points keeps none, and its queries return payloads.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import qdrant_edge as qe

from .port import DOCUMENT_ID_FIELD

__all__ = ["INDEXED_FIELDS", "MAX_POINTS", "PayloadIndex"]

#: The fields the index answers: one document's chunks share each of them.
INDEXED_FIELDS = (DOCUMENT_ID_FIELD, "file_type", "source_id", "mime")
#: Above this many points a shard keeps no index.
MAX_POINTS = 1_000_000
#: Payloads kept for each set of fields a query asks for (one a document).
MAX_MADE = 200_000
#: Points read from the shard in each step of filling the index.
SCROLL_STEP = 1024

#: A field the point's payload does not have.
_ABSENT = object()
_SELECTOR = qe.PayloadSelector.Include(list(INDEXED_FIELDS))

Values = tuple[Any, ...]
#: Runs one step of the fill on the open shard; None once the shard is closed.
Scroll = Callable[[Any], "tuple[list[Any], Any] | None"]


def _key(point_id: object) -> object:
    """The index's key of a point id as the store or the engine gives it: a UUID (or its
    text) as its 128-bit number, hashed and compared in C, unlike a ``uuid.UUID``; an
    integer id as a negative number, so that it never meets a UUID's."""
    if type(point_id) is uuid.UUID:
        return point_id.int
    if isinstance(point_id, str):
        try:
            return uuid.UUID(point_id).int
        except ValueError:
            return point_id
    if isinstance(point_id, int):
        return -1 - point_id
    return point_id


def _shared(value: Any) -> Any:
    """Text as one object wherever it recurs (a source's id, a file type)."""
    return sys.intern(value) if type(value) is str else value


class PayloadIndex:
    """Point id -> its document's ``INDEXED_FIELDS`` (one tuple shared by a document's
    points) for one shard; usable once ``ready`` (filled by ``fill``)."""

    def __init__(self, limit: int = MAX_POINTS) -> None:
        self.limit = limit
        self._points: dict[object, Values] = {}
        #: Payloads made for each set of fields asked for, by their document's tuple.
        self._made: dict[tuple[str, ...], dict[int, tuple[Values, dict[str, Any]]]] = {}
        self._documents: dict[Any, tuple[Values, list[object]]] = {}
        self._lock = threading.Lock()
        self._filling = False
        #: True once the whole shard is in; False again if it grew past ``limit``.
        self.ready = False
        #: True once the shard proved too large: the index is dropped for good.
        self.too_large = False

    @classmethod
    def empty(cls) -> PayloadIndex:
        """The index of a new, empty shard: complete as it is."""
        index = cls()
        index.ready = True
        return index

    def put(self, points: Iterable[tuple[object, Mapping[str, Any] | None]]) -> None:
        """Record ``(point id, payload)`` pairs written to the shard (replacing any)."""
        with self._lock:
            for point_id, payload in points:
                self._add(_key(point_id), payload or {}, replace=True)
            self._check_size()

    def forget_points(self, point_ids: Sequence[str]) -> None:
        with self._lock:
            for point_id in point_ids:
                self._remove(_key(point_id))

    def forget_document(self, document_id: str) -> None:
        with self._lock:
            _, members = self._documents.pop(document_id, ((), []))
            for key in members:
                self._points.pop(key, None)

    def reader(self, fields: Sequence[str]) -> Callable[[object], dict[str, Any] | None]:
        """A function from a point's id to its payload limited to ``fields`` (all of them
        ``INDEXED_FIELDS``), or None for a point the index does not know. The points of
        one document share one payload, from one query to the next: hits are read-only."""
        places = [(field, INDEXED_FIELDS.index(field)) for field in fields]
        points = self._points
        made = self._made.setdefault(tuple(fields), {})
        if len(made) > MAX_MADE:
            made.clear()
        whole = uuid.UUID

        def read(point_id: object) -> dict[str, Any] | None:
            values = points.get(point_id.int if type(point_id) is whole else _key(point_id))
            if values is None:
                return None
            entry = made.get(id(values))
            # The tuple is kept alive by the entry, so its id is never another's.
            if entry is None or entry[0] is not values:
                payload = {f: values[i] for f, i in places if values[i] is not _ABSENT}
                entry = made[id(values)] = (values, payload)
            return entry[1]

        return read

    def payloads(
        self, point_ids: Sequence[object], fields: Sequence[str]
    ) -> list[dict[str, Any] | None]:
        """``reader(fields)`` of each of ``point_ids``."""
        read = self.reader(fields)
        return [read(point_id) for point_id in point_ids]

    def answers(self, fields: Sequence[str] | None) -> bool:
        """Whether a query asking for payload ``fields`` can be answered here."""
        return (
            self.ready
            and fields is not None
            and bool(fields)
            and all(field in INDEXED_FIELDS for field in fields)
        )

    def start_filling(self, scroll: Scroll) -> None:
        """Fill the index from the shard on a thread of its own, once."""
        with self._lock:
            if self._filling or self.ready or self.too_large:
                return
            self._filling = True
        threading.Thread(target=self.fill, args=(scroll,), name="edge-index", daemon=True).start()

    def fill(self, scroll: Scroll) -> None:
        """Add every point of the shard (``scroll`` steps through it) not yet here."""
        offset: Any = None
        try:
            while True:
                step = scroll(offset)
                if step is None:  # the shard was closed
                    return
                records, offset = step
                with self._lock:
                    for record in records:
                        self._add(_key(record.id), record.payload or {}, replace=False)
                    self._check_size()
                    if self.too_large:
                        return
                if offset is None:
                    break
            with self._lock:
                self.ready = not self.too_large
        finally:
            with self._lock:
                self._filling = False

    def _add(self, key: object, payload: Mapping[str, Any], replace: bool) -> None:
        if not replace and key in self._points:
            return
        values = tuple(_shared(payload.get(field, _ABSENT)) for field in INDEXED_FIELDS)
        self._remove(key)
        document = values[0]
        shared, members = self._documents.get(document, (values, []))
        members.append(key)
        self._documents[document] = (shared, members)
        # A document's points share one tuple where their fields agree.
        self._points[key] = shared if shared == values else values

    def _remove(self, key: object) -> None:
        values = self._points.pop(key, None)
        if values is None:
            return
        entry = self._documents.get(values[0])
        if entry is not None:
            with contextlib.suppress(ValueError):
                entry[1].remove(key)  # a document has a few points
            if not entry[1]:
                del self._documents[values[0]]

    def _check_size(self) -> None:
        if len(self._points) > self.limit:
            self.too_large, self.ready = True, False
            self._points, self._documents, self._made = {}, {}, {}


def scroll_step(shard: qe.EdgeShard, offset: Any) -> tuple[list[Any], Any]:
    """One step of reading the shard's points with the indexed fields."""
    request = qe.ScrollRequest(
        offset=offset, limit=SCROLL_STEP, with_payload=_SELECTOR, with_vector=False
    )
    records, following = shard.scroll(request)
    return list(records), following
