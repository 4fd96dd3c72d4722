"""The collections read model kept in the application's database (SPEC §14, bounded
state), on both event stores: a restart loads it and folds only the events after it,
answering exactly as a rebuild from the whole log does; the audit log is paged from the
store; a stored state that does not fit the log is dropped and the log folded again;
a replica behind another never sets the store back."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from collections_service.application import CollectionsApplication
from collections_service.projections import ReadModel
from semantik_contracts import commands
from semantik_runtime import folding
from semantik_runtime.errors import CommandError

from .application_case import CollectionsApplicationCase, OnPostgres, OnSQLite

pytestmark = pytest.mark.integration


class Folds:
    """Counts the events every ``ReadModel`` folds while it is installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        fold = ReadModel._apply

        def counted(model: ReadModel, domain_event: Any) -> None:
            self.count += 1
            fold(model, domain_event)

        monkeypatch.setattr(ReadModel, "_apply", counted)


class StoredReadModelCase(CollectionsApplicationCase):
    @pytest.fixture
    def apps(self, env: dict[str, str]) -> Iterator[list[CollectionsApplication]]:
        """Further applications on the same store (a restart, another replica)."""
        opened: list[CollectionsApplication] = []
        yield opened
        for app in opened:
            app.close()

    def reopen(
        self, env: dict[str, str], apps: list[CollectionsApplication]
    ) -> CollectionsApplication:
        app = CollectionsApplication(env=env, quotas=self.quotas)
        apps.append(app)
        return app

    def busy(self, app: CollectionsApplication, actor: str = "u1") -> None:
        """Collections, sources, a finished operation, and audit entries of each kind."""
        view = self.create(app, "docs", actor)
        op_id = self.add_source(app, view.id).operation.id
        self.finish(app, view, op_id)
        self.create(app, "more", actor)

    def test_a_restart_folds_only_the_events_after_the_stored_state(
        self,
        app: CollectionsApplication,
        env: dict[str, str],
        apps: list[CollectionsApplication],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self.busy(app)
        app.read_model.checkpoint()
        stored_at = app.read_model.position
        tail = self.create(app, "after", "u1")  # folded, not yet written
        assert app.read_model.position > stored_at

        folds = Folds(monkeypatch)
        again = self.reopen(env, apps)
        assert again.read_model.position == app.read_model.position
        assert folds.count == app.read_model.position - stored_at
        assert self.snapshot(again.read_model) == self.snapshot(app.read_model)
        assert tail.id in again.read_model.collections
        # What it loaded equals what the whole log gives.
        loaded = again.read_model.digest()
        again.queries.rebuild()
        assert again.read_model.digest() == loaded
        assert folds.count > app.read_model.position - stored_at

    def test_a_settled_operation_keeps_no_work_ids_in_the_read_model(
        self, app: CollectionsApplication
    ) -> None:
        """Memory flat with history: the aggregate keeps its counted work ids (it must
        not count an item twice), the read model's copy of a settled one does not."""
        view = self.create(app)
        op_id = self.add_source(app, view.id).operation.id
        self.finish(app, view, op_id)
        assert app.repository.get(op_id).counted  # the aggregate's, for redeliveries
        folded = app.read_model.operations[op_id]
        assert folded.settled and folded.counted == set()

    def test_the_state_is_written_every_thousand_events_or_so(
        self, app: CollectionsApplication, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(folding, "CHECKPOINT_EVENTS", 4)
        model = ReadModel(app)
        model.catch_up()
        self.busy(app)
        model.catch_up()
        position, rows = model.store.load(model.stored_as)
        assert position == model.position  # more than 4 events since the last write
        assert {table for table, _, _ in rows} >= {"collections", "operations", "sources"}

    def test_the_audit_log_is_paged_from_the_store(
        self, app: CollectionsApplication, env: dict[str, str]
    ) -> None:
        for n in range(2):
            self.create(app, f"c{n}", "pager")
        app.read_model.checkpoint()  # these are stored, the next ones not yet
        with pytest.raises(CommandError):
            self.create(app, "c0", "pager")  # rejected: the name is taken
        self.create(app, "c2", "pager")
        whole = [e for e in reversed(app.read_model.audit) if e.actor == "pager"]
        assert [e.outcome for e in whole[:2]] == ["accepted", "rejected"]
        paged: list[Any] = []
        for offset in range(0, len(whole) + 2, 2):
            total, items = app.read_model.audit_of("pager", [], offset=offset, limit=2)
            assert total == len(whole)
            paged += items
        assert paged == whole
        total, rejected = app.read_model.audit_of("pager", [], outcome="rejected")
        assert total == 1 and [e.action for e in rejected] == ["collection.create"]
        page = app.queries.get_audit(
            commands.GetAudit(actor="pager", offset=1, limit=3, outcome="accepted")
        )
        assert page.total == 3 and page.items == [e for e in whole if e.outcome == "accepted"][1:4]
        # Someone else's entries stay theirs.
        assert app.read_model.audit_of("stranger", [])[0] == 0

    @pytest.mark.parametrize(
        "beyond, readable",
        [(1000, True), (0, False)],
        ids=["a position beyond the log", "a row that does not read"],
    )
    def test_stored_state_that_does_not_fit_is_dropped_and_the_log_folded(
        self,
        app: CollectionsApplication,
        env: dict[str, str],
        apps: list[CollectionsApplication],
        caplog: pytest.LogCaptureFixture,
        beyond: int,
        readable: bool,
    ) -> None:
        """A log replaced under its stored state, or a row a changed class cannot read:
        the state is dropped and the whole log folded."""
        self.busy(app)
        model = app.read_model
        model.store.drop(model.stored_as)
        collection = next(iter(model.collections.values()))
        value = model._pack(collection) if readable else b"not json"
        row = ("collections", model._key(collection.id), value)
        model.store.save(model.stored_as, model.position + beyond, [row], [])
        with caplog.at_level(logging.WARNING, logger=folding.__name__):
            again = self.reopen(env, apps)
        assert "not loaded" in caplog.text
        assert again.read_model.digest() == model.digest()
        assert again.read_model.store.load(ReadModel.stored_as)[1] != [row]  # dropped

    def test_a_replica_behind_another_never_sets_the_store_back(
        self, app: CollectionsApplication, env: dict[str, str], apps: list[CollectionsApplication]
    ) -> None:
        behind = self.reopen(env, apps)  # it has folded nothing of what follows
        self.busy(app)
        app.read_model.checkpoint()
        ahead = app.read_model.position
        created = next(iter(app.read_model.collections))
        # Unknown to ``behind``: written by it, the row would be deleted.
        behind.read_model._touch("collections", created)
        behind.read_model._unsaved = 1
        behind.read_model.checkpoint()
        position, rows = behind.read_model.store.load(ReadModel.stored_as)
        assert position == ahead > behind.read_model.position
        assert behind.read_model._key(created) in {key for _, key, _ in rows}
        # Kept for its next write, which comes after it has caught up.
        assert behind.read_model._dirty == {("collections", created)}
        behind.read_model.catch_up()
        behind.read_model.checkpoint()
        assert behind.read_model.store.load(ReadModel.stored_as)[0] == ahead
        assert behind.read_model.digest() == app.read_model.digest()

    def test_rebuild_drops_the_stored_state_and_writes_it_again(
        self, app: CollectionsApplication, env: dict[str, str]
    ) -> None:
        self.busy(app)
        rebuilt = app.queries.rebuild()
        assert rebuilt.digest_after == rebuilt.digest_before
        position, rows = app.read_model.store.load(ReadModel.stored_as)
        assert position == app.read_model.position == rebuilt.position
        assert len([r for r in rows if r[0] == "collections"]) == len(app.read_model.collections)


class TestStoredReadModelOnSQLite(OnSQLite, StoredReadModelCase):
    pass


class TestStoredReadModelOnPostgres(OnPostgres, StoredReadModelCase):
    pass
