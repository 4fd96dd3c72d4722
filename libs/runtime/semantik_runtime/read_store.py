"""Where a read model keeps its state between runs (SPEC §14, bounded state).

A read model (``folding.FoldedLog``) folds its application's notification log. Without
a store, each start folds the whole log again, so start-up grows with history. With
one, the model's state is written now and then as rows, together with the position in
the log it reflects, in one transaction of the application's own database: a restart
loads the rows and folds only the events after that position.

The position is eventsourcing's tracking record: each store is a ``TrackingRecorder``
of the application's persistence module (SQLite in the embedded default, PostgreSQL
with ``DATABASE_URL``), made by the application's own infrastructure factory, with two
tables beside its ``tracking`` table:

- ``read_model_rows``: one row per entry of the model (an aggregate, a document
  record), keyed by the model's name, a table name and the entry's key. Rows changed
  since the last write are written again, rows removed are deleted.
- ``read_model_journal``: an append-only log of entries that are read a page at a time
  (the audit log), never held in memory: ``journal_page`` filters and pages it in SQL.

Why not eventsourcing's ``ProjectionRunner``: it follows the log through the
recorder's subscription, which its SQLite recorder does not support, and it folds on a
thread of its own, while a command's answer must already see its own events (the read
model folds what the process saves at once, ``FoldedLog.record``). The tracking
recorders are the part of ``eventsourcing.projection`` that fits.

Several replicas may share one store (PostgreSQL): single-row tracking only accepts a
position beyond the stored one, so a replica behind another fails its write (and keeps
its changes for the next one) rather than setting the store back.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, Tracking
from eventsourcing.popo import POPOFactory
from eventsourcing.postgres import PostgresFactory, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteFactory, SQLiteTrackingRecorder
from psycopg.sql import SQL, Identifier

from .eventstore import SerialTables

#: A row of a model: (table, key, value); a value of None deletes the row.
Row = tuple[str, str, bytes | None]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One entry of a model's journal, with the fields it is filtered by."""

    seq: int  # its place in the log (entries are listed by it, newest first)
    actor: str
    collection: str  # "" for none
    outcome: str
    value: bytes


@dataclass(frozen=True, slots=True)
class JournalQuery:
    """The entries an actor may see: its own, everyone's on ``owned`` collections, and
    the ``system``'s on ``readable`` ones; optionally of one ``outcome`` only."""

    actor: str
    owned: tuple[str, ...]
    readable: tuple[str, ...]
    outcome: str | None
    offset: int
    limit: int

    def matches(self, entry: JournalEntry) -> bool:
        return (
            entry.actor == self.actor
            or entry.collection in self.owned
            or (entry.actor == "system" and entry.collection in self.readable)
        ) and (self.outcome is None or entry.outcome == self.outcome)


class ReadStore(ABC):
    """The stored state of the read models of one application, each under its name."""

    @abstractmethod
    def load(self, model: str) -> tuple[int, list[tuple[str, str, bytes]]]:
        """The position the stored state reflects (0: none) and its rows."""

    @abstractmethod
    def save(
        self, model: str, position: int, rows: Sequence[Row], journal: Sequence[JournalEntry]
    ) -> bool:
        """Write rows and journal entries with ``position``, in one transaction; False
        (nothing written) when the store already reflects a later position."""

    @abstractmethod
    def drop(self, model: str) -> None:
        """Forget the model's rows, journal and position."""

    @abstractmethod
    def journal_page(self, model: str, query: JournalQuery) -> tuple[int, list[bytes]]:
        """How many entries ``query`` matches, and a page of them, newest first."""

    @abstractmethod
    def journal(self, model: str) -> list[bytes]:
        """Every entry, oldest first."""


def read_store(app: Application[Any]) -> ReadStore:
    """The read store in the application's own database."""
    factory: InfrastructureFactory[Any] = app.factory
    if isinstance(factory, POPOFactory):
        return MemoryReadStore()
    if isinstance(factory, SQLiteFactory):
        sqlite = factory.tracking_recorder(SQLiteReadStore)
        assert isinstance(sqlite, SQLiteReadStore)
        return sqlite
    if isinstance(factory, PostgresFactory):
        return factory.tracking_recorder(PostgresReadStore)
    raise TypeError(f"no read store for {type(factory).__module__}")


class MemoryReadStore(ReadStore):
    """The store of an application kept in memory (tests): lost with the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._positions: dict[str, int] = {}
        self._rows: dict[str, dict[tuple[str, str], bytes]] = {}
        self._journals: dict[str, dict[int, JournalEntry]] = {}

    def load(self, model: str) -> tuple[int, list[tuple[str, str, bytes]]]:
        with self._lock:
            rows = [(t, k, v) for (t, k), v in self._rows.get(model, {}).items()]
            return self._positions.get(model, 0), rows

    def save(
        self, model: str, position: int, rows: Sequence[Row], journal: Sequence[JournalEntry]
    ) -> bool:
        with self._lock:
            entries = self._journals.setdefault(model, {})
            for entry in journal:
                entries.setdefault(entry.seq, entry)
            if position <= self._positions.get(model, 0):
                return False
            stored = self._rows.setdefault(model, {})
            for table, key, value in rows:
                if value is None:
                    stored.pop((table, key), None)
                else:
                    stored[(table, key)] = value
            self._positions[model] = position
            return True

    def drop(self, model: str) -> None:
        with self._lock:
            self._positions.pop(model, None)
            self._rows.pop(model, None)
            self._journals.pop(model, None)

    def journal_page(self, model: str, query: JournalQuery) -> tuple[int, list[bytes]]:
        with self._lock:
            entries = sorted(self._journals.get(model, {}).values(), key=lambda e: -e.seq)
        found = [e.value for e in entries if query.matches(e)]
        return len(found), found[query.offset : query.offset + query.limit]

    def journal(self, model: str) -> list[bytes]:
        with self._lock:
            entries = sorted(self._journals.get(model, {}).values(), key=lambda e: e.seq)
        return [e.value for e in entries]


class SQLiteReadStore(SQLiteTrackingRecorder, ReadStore):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS read_model_rows (model TEXT, tab TEXT, key TEXT, "
            "value BLOB, PRIMARY KEY (model, tab, key)) WITHOUT ROWID",
            "CREATE TABLE IF NOT EXISTS read_model_journal (model TEXT, seq INTEGER, "
            "actor TEXT, collection TEXT, outcome TEXT, value BLOB, PRIMARY KEY (model, seq))",
        ]

    def load(self, model: str) -> tuple[int, list[tuple[str, str, bytes]]]:
        with self.datastore.transaction(commit=False) as c:
            position = self._max_tracking_id(model, c) or 0
            c.execute("SELECT tab, key, value FROM read_model_rows WHERE model=?", (model,))
            return position, [(r[0], r[1], bytes(r[2])) for r in c.fetchall()]

    def save(
        self, model: str, position: int, rows: Sequence[Row], journal: Sequence[JournalEntry]
    ) -> bool:
        try:
            with self.datastore.transaction(commit=True) as c:
                self._insert_tracking(c, Tracking(model, position))
                c.executemany(
                    "DELETE FROM read_model_rows WHERE model=? AND tab=? AND key=?",
                    [(model, t, k) for t, k, v in rows if v is None],
                )
                c.executemany(
                    "INSERT OR REPLACE INTO read_model_rows VALUES (?, ?, ?, ?)",
                    [(model, t, k, v) for t, k, v in rows if v is not None],
                )
                self._insert_journal(c, model, journal)
        except IntegrityError:
            # The store is further on (another replica wrote it); the journal's entries
            # are facts of the log, kept whoever writes them first.
            with self.datastore.transaction(commit=True) as c:
                self._insert_journal(c, model, journal)
            return False
        return True

    @staticmethod
    def _insert_journal(c: Any, model: str, journal: Sequence[JournalEntry]) -> None:
        c.executemany(
            "INSERT OR IGNORE INTO read_model_journal VALUES (?, ?, ?, ?, ?, ?)",
            [(model, e.seq, e.actor, e.collection, e.outcome, e.value) for e in journal],
        )

    def drop(self, model: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute("DELETE FROM tracking WHERE application_name=?", (model,))
            c.execute("DELETE FROM read_model_rows WHERE model=?", (model,))
            c.execute("DELETE FROM read_model_journal WHERE model=?", (model,))

    def journal_page(self, model: str, query: JournalQuery) -> tuple[int, list[bytes]]:
        owned = ",".join("?" * len(query.owned))
        readable = ",".join("?" * len(query.readable))
        where = (
            f"model=? AND (actor=? OR collection IN ({owned}) "
            f"OR (actor='system' AND collection IN ({readable})))"
        )
        params: list[Any] = [model, query.actor, *query.owned, *query.readable]
        if query.outcome is not None:
            where += " AND outcome=?"
            params.append(query.outcome)
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT COUNT(*) FROM read_model_journal WHERE {where}", params)
            total = int(c.fetchone()[0])
            c.execute(
                f"SELECT value FROM read_model_journal WHERE {where} "
                "ORDER BY seq DESC LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            )
            return total, [bytes(r[0]) for r in c.fetchall()]

    def journal(self, model: str) -> list[bytes]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT value FROM read_model_journal WHERE model=? ORDER BY seq", (model,))
            return [bytes(r[0]) for r in c.fetchall()]


class PostgresReadStore(SerialTables, PostgresTrackingRecorder, ReadStore):
    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(self.datastore.schema)
        self.rows_table = SQL("{0}.read_model_rows").format(schema)
        self.journal_table = SQL("{0}.read_model_journal").format(schema)
        self.tracking = SQL("{0}.{1}").format(schema, Identifier(self.tracking_table_name))
        self.sql_create_statements += [
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (model text, tab text, key text, value bytea, "
                "PRIMARY KEY (model, tab, key))"
            ).format(self.rows_table),
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (model text, seq bigint, actor text, "
                "collection text, outcome text, value bytea, PRIMARY KEY (model, seq))"
            ).format(self.journal_table),
        ]

    def load(self, model: str) -> tuple[int, list[tuple[str, str, bytes]]]:
        with self.datastore.transaction(commit=False) as curs:
            position = self._max_tracking_id(model, curs) or 0
            curs.execute(
                SQL("SELECT tab, key, value FROM {0} WHERE model=%s").format(self.rows_table),
                (model,),
            )
            return position, [(r["tab"], r["key"], bytes(r["value"])) for r in curs.fetchall()]

    def save(
        self, model: str, position: int, rows: Sequence[Row], journal: Sequence[JournalEntry]
    ) -> bool:
        try:
            with self.datastore.transaction(commit=True) as curs:
                self._insert_tracking(curs, Tracking(model, position))
                _many(
                    curs,
                    SQL("DELETE FROM {0} WHERE model=%s AND tab=%s AND key=%s").format(
                        self.rows_table
                    ),
                    [(model, t, k) for t, k, v in rows if v is None],
                )
                _many(
                    curs,
                    SQL(
                        "INSERT INTO {0} VALUES (%s, %s, %s, %s) ON CONFLICT (model, tab, key) "
                        "DO UPDATE SET value = EXCLUDED.value"
                    ).format(self.rows_table),
                    [(model, t, k, v) for t, k, v in rows if v is not None],
                )
                self._insert_journal(curs, model, journal)
        except IntegrityError:
            # The store is further on (another replica wrote it); the journal's entries
            # are facts of the log, kept whoever writes them first.
            with self.datastore.transaction(commit=True) as curs:
                self._insert_journal(curs, model, journal)
            return False
        return True

    def _insert_journal(self, curs: Any, model: str, journal: Sequence[JournalEntry]) -> None:
        _many(
            curs,
            SQL("INSERT INTO {0} VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING").format(
                self.journal_table
            ),
            [(model, e.seq, e.actor, e.collection, e.outcome, e.value) for e in journal],
        )

    def drop(self, model: str) -> None:
        with self.datastore.transaction(commit=True) as curs:
            where = SQL("WHERE model=%s")
            curs.execute(
                SQL("DELETE FROM {0} WHERE application_name=%s").format(self.tracking), (model,)
            )
            curs.execute(SQL("DELETE FROM {0} {1}").format(self.rows_table, where), (model,))
            curs.execute(SQL("DELETE FROM {0} {1}").format(self.journal_table, where), (model,))

    def journal_page(self, model: str, query: JournalQuery) -> tuple[int, list[bytes]]:
        where = SQL(
            "model=%s AND (actor=%s OR collection = ANY(%s) "
            "OR (actor='system' AND collection = ANY(%s))) AND (%s::text IS NULL OR outcome=%s)"
        )
        params = (
            model,
            query.actor,
            list(query.owned),
            list(query.readable),
            query.outcome,
            query.outcome,
        )
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT COUNT(*) AS n FROM {0} WHERE {1}").format(self.journal_table, where),
                params,
            )
            row = curs.fetchone()
            total = int(row["n"]) if row else 0
            curs.execute(
                SQL("SELECT value FROM {0} WHERE {1} ORDER BY seq DESC LIMIT %s OFFSET %s").format(
                    self.journal_table, where
                ),
                (*params, query.limit, query.offset),
            )
            return total, [bytes(r["value"]) for r in curs.fetchall()]

    def journal(self, model: str) -> list[bytes]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT value FROM {0} WHERE model=%s ORDER BY seq").format(self.journal_table),
                (model,),
            )
            return [bytes(r["value"]) for r in curs.fetchall()]


def _many(curs: Any, statement: Any, params: Iterable[tuple[Any, ...]]) -> None:
    batch = list(params)
    if batch:
        curs.executemany(statement, batch)
