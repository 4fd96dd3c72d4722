"""A read model folded from an application's notification log (SPEC §3): what this
process saves is folded at once, and anything else is read from the log in order.

A read model with a name (``stored_as``) keeps its state in the application's database
(``read_store``): its ``tables`` row by row, written with the position they reflect
once enough events were folded since the last write, and its journal (the audit log)
entry by entry. The first ``catch_up`` loads that state and folds only what came
after, so a start reads the model's size plus a bounded tail, not the whole history.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Recording

from .read_store import JournalEntry, JournalQuery, MemoryReadStore, ReadStore, Row, read_store
from .snapshots import TypedSnapshot, typed

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Notifications read from the log at a time.
PAGE = 500
#: The state is written once this many events were folded since the last write, or
#: more when the last write was large: about ``BYTES_PER_EVENT`` bytes written per
#: event folded, so a large state (an operation's counted work) is not written again
#: every few events while the tail a restart folds stays bounded.
CHECKPOINT_EVENTS = 1000
BYTES_PER_EVENT = 512
#: Marks a packed aggregate.
_SNAPSHOT = "_snapshot_"
#: Journal entries one notification may add (their ``seq`` is ``id * this + n``).
_PER_NOTIFICATION = 8


class FoldedLog(ABC):
    """Subclasses fold one domain event in ``_apply``; ``_folded`` runs after a batch.

    A stored model names each entry it changes with ``_touch`` (an attribute among
    ``tables`` and a key of it) and each journal entry it adds with ``_note``;
    ``_load`` puts a stored row back."""

    #: The name the state is stored under; a new one when its shape changes (the old
    #: rows are then ignored, and the log folded again). "": kept in memory only.
    stored_as: ClassVar[str] = ""
    #: The attributes stored row by row: dicts (a row per key) and sets (per member).
    tables: ClassVar[tuple[str, ...]] = ()

    def __init__(self, app: Application[UUID]) -> None:
        self.app = app
        self.position = 0
        self._lock = threading.Lock()
        self._doubted = False
        self.store: ReadStore = read_store(app) if self.stored_as else MemoryReadStore()
        self._loaded = not self.stored_as
        self._dirty: set[tuple[str, Any]] = set()
        self._journal: list[JournalEntry] = []
        self._at = 0  # the notification being folded
        self._unsaved = 0  # events folded since the state was last written
        self._due = CHECKPOINT_EVENTS

    def catch_up(self) -> None:
        """Fold every notification after the last one folded (after loading the stored
        state, the first time)."""
        with self._lock:
            if not self._loaded:
                self._restore()
            while True:
                batch = self.app.recorder.select_notifications(self.position + 1, PAGE)
                for notification in batch:
                    self._at = notification.id
                    self._apply(self.app.mapper.to_domain_event(notification))
                    self.position = notification.id
                self._unsaved += len(batch)
                if len(batch) < PAGE:
                    break
            self._folded()
            self._checkpoint_if_due()

    def record(self, recordings: list[Recording[UUID]]) -> None:
        """Fold what this process just saved, without reading it back when it follows
        what was folded; otherwise (another writer in between) catch up from the log."""
        with self._lock:
            ids = [r.notification.id for r in recordings]
            if (
                self._loaded
                and ids
                and ids == list(range(self.position + 1, self.position + 1 + len(ids)))
            ):
                for recording in recordings:
                    self._at = recording.notification.id
                    self._apply(recording.domain_event)
                self.position = ids[-1]
                self._unsaved += len(ids)
                self._folded()
                self._checkpoint_if_due()
                return
        self.catch_up()

    def doubt(self) -> None:
        """A save raised, and may have landed all the same: the store's connection can be
        cut after it committed (a database restarted). ``record`` catches up at the next
        save's gap, but none may come (a redelivered event finds its effect stored and
        saves nothing); ``reconcile``, called periodically, folds the log then."""
        self._doubted = True

    def reconcile(self) -> None:
        """Catch up from the log if a save was doubted since the last catch-up (cheap
        otherwise: nothing is read)."""
        if self._doubted:
            self.catch_up()
            self._doubted = False

    def rebuild(self) -> None:
        """Drop the read model, stored state included, and fold the whole log again."""
        with self._lock:
            self.store.drop(self.stored_as)
            self._clear()
            self.position = 0
            self._dirty.clear()
            self._journal.clear()
            self._loaded = True
        self.catch_up()
        self.checkpoint()

    # -- the stored state --------------------------------------------------------------
    def checkpoint(self) -> None:
        """Write what changed since the last write (at a service's orderly stop)."""
        with self._lock:
            self._write()

    def _checkpoint_if_due(self) -> None:
        if self._unsaved >= self._due:
            self._write()

    def _write(self) -> None:
        if not self._unsaved and not self._dirty and not self._journal:
            return
        rows: list[Row] = [
            (table, self._key(key), self._row(table, key)) for table, key in self._dirty
        ]
        try:
            saved = self.store.save(self.stored_as, self.position, rows, self._journal)
        except Exception:
            # Kept for the next write; until then a restart folds a longer tail.
            log.warning(
                "read model %s not written at %d", self.stored_as, self.position, exc_info=True
            )
            return
        self._journal.clear()  # written either way (entries are immutable)
        self._unsaved = 0
        if saved:
            self._dirty.clear()
            size = sum(len(value) for _, _, value in rows if value is not None)
            self._due = max(CHECKPOINT_EVENTS, size // BYTES_PER_EVENT)

    def _restore(self) -> None:
        self._loaded = True
        try:
            position, rows = self.store.load(self.stored_as)
            if position > (self.app.recorder.max_notification_id() or 0):
                raise ValueError(f"stored at {position}, beyond the log")  # another log
            for table, key, value in rows:
                self._load(table, self._unpack(key.encode()), self._unpack(value))
            self.position = position
        except Exception:
            log.warning("read model %s not loaded: folding the log", self.stored_as, exc_info=True)
            self._clear()
            self.position = 0
            self.store.drop(self.stored_as)

    def _row(self, table: str, key: Any) -> bytes | None:
        held = getattr(self, table)
        if key not in held:
            return None
        return self._pack(True if isinstance(held, set) else held[key])

    def _load(self, table: str, key: Any, value: Any) -> None:
        held = getattr(self, table)
        if isinstance(held, set):
            held.add(key)
        else:
            held[key] = value

    def _key(self, key: Any) -> str:
        return self._pack(key).decode()

    def _pack(self, value: Any) -> bytes:
        """A value as bytes; an aggregate as its (typed) snapshot."""
        if isinstance(value, Aggregate):
            snapshot = TypedSnapshot.take(value)
            value = {
                _SNAPSHOT: snapshot.topic,
                "id": snapshot.originator_id,
                "version": snapshot.originator_version,
                "at": snapshot.timestamp,
                "state": snapshot.state,  # typed already
            }
        else:
            value = typed(value)
        encoded: bytes = self.app.mapper.transcoder.encode(value)
        return encoded

    def _unpack(self, data: bytes) -> Any:
        value = self.app.mapper.transcoder.decode(data)
        if isinstance(value, dict) and _SNAPSHOT in value:
            snapshot = TypedSnapshot(
                originator_id=value["id"],
                originator_version=value["version"],
                timestamp=value["at"],
                topic=value[_SNAPSHOT],
                state=value["state"],
            )
            return snapshot.mutate(None)
        return value

    def _touch(self, table: str, key: Any) -> None:
        if self.stored_as:
            self._dirty.add((table, key))

    def _note(self, actor: str, collection: UUID | None, outcome: str, entry: Any) -> None:
        """Add an entry to the journal."""
        seq = self._at * _PER_NOTIFICATION + sum(
            1 for e in self._journal if e.seq // _PER_NOTIFICATION == self._at
        )
        collection_id = "" if collection is None else str(collection)
        self._journal.append(JournalEntry(seq, actor, collection_id, outcome, self._pack(entry)))

    def journal_page(
        self, query: JournalQuery, as_entry: Callable[[Any], T]
    ) -> tuple[int, list[T]]:
        """How many journal entries ``query`` matches, and a page of them, newest first:
        those not yet written, then the stored ones."""
        with self._lock:
            fresh = [e for e in reversed(self._journal) if query.matches(e)]
            page = fresh[query.offset : query.offset + query.limit]
            rest = replace(
                query, offset=max(0, query.offset - len(fresh)), limit=query.limit - len(page)
            )
            stored, values = self.store.journal_page(self.stored_as, rest)
        found = [as_entry(self._unpack(e.value)) for e in page]
        found += [as_entry(self._unpack(value)) for value in values]
        return len(fresh) + stored, found

    def journal(self, as_entry: Callable[[Any], T]) -> list[T]:
        """Every journal entry, oldest first."""
        with self._lock:
            values = [*self.store.journal(self.stored_as), *(e.value for e in self._journal)]
        return [as_entry(self._unpack(value)) for value in values]

    # -- the model -----------------------------------------------------------------
    def _clear(self) -> None:
        """Empty the read model (its stored state is dropped separately): what a model
        that is stored or rebuilt must do."""
        raise NotImplementedError(f"{type(self).__name__} cannot be emptied")

    @abstractmethod
    def _apply(self, domain_event: Any) -> None:
        """Fold one domain event into the read model."""

    def _folded(self) -> None:  # noqa: B027 - an optional hook; most read models need none
        """After each batch is folded (indexes built from the whole model)."""
