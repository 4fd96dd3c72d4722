"""Column preference sets (seed 002 US3) and the batch re-embed (seed 002 US2) on the
collections application: saved, replaced, listed and deleted as events that survive a
restart; who may do what; a batch is one staged operation (a reindex of the collection;
a plain index before the first completed one), all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from collections_service.application import CollectionsApplication
from collections_service.column_set_aggregate import MAX_COLUMN_SETS
from collections_service.column_sets import (
    delete_column_set,
    list_column_sets,
    reembed_sources,
    save_column_set,
)
from collections_service.quota import Quotas
from semantik_contracts import ErrorCode, OperationStatus, OperationType, commands
from semantik_contracts.column_sets import (
    DeleteColumnSet,
    ListColumnSets,
    ReembedSources,
    SaveColumnSet,
)
from semantik_runtime.eventstore import event_store_env

from services.collections.tests.application_case import CollectionsApplicationCase, code_of

pytestmark = pytest.mark.integration


def save(app: CollectionsApplication, cid: Any, name: str, *text: str, actor: str = "u1") -> Any:
    cmd = SaveColumnSet(
        actor=actor, collection_id=cid, name=name, text_columns=list(text), context_columns=["c"]
    )
    return save_column_set(app, cmd)


def names(app: CollectionsApplication, cid: Any, actor: str = "u1") -> list[tuple[str, list[str]]]:
    listed = list_column_sets(app, ListColumnSets(actor=actor, collection_id=cid))
    return [(s.name, s.text_columns) for s in listed.items]


class TestColumnSets(CollectionsApplicationCase):
    #: Room for a staging copy (the case's 1 KiB limit refuses a reindex).
    quotas = Quotas(max_collections_per_user=3)

    @pytest.fixture
    def env(self, tmp_path: Path) -> dict[str, str]:
        return event_store_env("collections", None, tmp_path)

    def table(self, app: CollectionsApplication, cid: Any, path: str) -> Any:
        cmd = commands.AddSource(actor="u1", collection_id=cid, path=path, text_columns=["a"])
        return app.add_source(cmd, path, "file")

    def test_sets_are_saved_replaced_listed_and_deleted_and_survive_a_restart(
        self, app: CollectionsApplication, env: dict[str, str]
    ) -> None:
        view = self.create(app)
        assert names(app, view.id) == []
        saved = save(app, view.id, "wide", "a", "b")
        assert (saved.saved_by, saved.context_columns) == ("u1", ["c"])
        save(app, view.id, "narrow", "a")
        save(app, view.id, "wide", "b")  # the same name replaces
        assert names(app, view.id) == [("narrow", ["a"]), ("wide", ["b"])]
        delete_column_set(app, DeleteColumnSet(actor="u1", collection_id=view.id, name="narrow"))
        assert names(app, view.id) == [("wide", ["b"])]
        actions = [entry.action for entry in app.read_model.audit]
        assert actions.count("column_set.save") == 3
        assert "column_set.delete" in actions
        again = CollectionsApplication(env=env, quotas=self.quotas)  # folded from the log
        try:
            assert names(again, view.id) == [("wide", ["b"])]
        finally:
            again.close()

    def test_who_may_read_and_change_sets_and_bad_names(self, app: CollectionsApplication) -> None:
        view = self.create(app)
        save(app, view.id, "wide", "a")
        app.grant_access(
            commands.GrantAccess(
                actor="u1",
                collection_id=view.id,
                principal_type="user",
                principal_id="v",
                role="viewer",
            )
        )
        assert names(app, view.id, actor="v") == [("wide", ["a"])]
        assert code_of(lambda: save(app, view.id, "x", "a", actor="v")) is ErrorCode.FORBIDDEN
        assert code_of(lambda: names(app, view.id, actor="stranger")) is ErrorCode.FORBIDDEN
        assert code_of(lambda: names(app, uuid4())) is ErrorCode.NOT_FOUND
        gone = DeleteColumnSet(actor="u1", collection_id=view.id, name="nope")
        assert code_of(lambda: delete_column_set(app, gone)) is ErrorCode.NOT_FOUND
        clash = SaveColumnSet(
            actor="u1", collection_id=view.id, name="id", text_columns=["a"], id_column="a"
        )
        assert code_of(lambda: save_column_set(app, clash)) is ErrorCode.INVALID
        for bad in ("", "   ", "a/b", "tab\there", "x" * 101):
            with pytest.raises(ValueError):
                SaveColumnSet(actor="u1", collection_id=view.id, name=bad, text_columns=["a"])

    def test_a_collection_holds_at_most_the_cap(self, app: CollectionsApplication) -> None:
        view = self.create(app)
        for index in range(MAX_COLUMN_SETS):
            save(app, view.id, f"s{index}", "a")
        assert code_of(lambda: save(app, view.id, "one more", "a")) is ErrorCode.CONFLICT
        save(app, view.id, "s0", "b")  # replacing one is still allowed

    def test_a_batch_is_one_staged_operation_all_or_nothing(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        first = self.table(app, view.id, "/t1.csv")
        self.finish(app, view, first.operation.id)
        second = self.table(app, view.id, "/t2.csv")
        self.finish(app, view, second.operation.id)
        folder = self.add_source(app, view.id, "/d")
        self.finish(app, view, folder.operation.id)
        ids = [first.source.id, second.source.id]
        started = reembed_sources(
            app,
            ReembedSources(
                actor="u1",
                collection_id=view.id,
                source_ids=ids,
                text_columns=["b"],
                column_set="wide",
            ),
        )
        # One staged operation: a reindex of the whole collection with the new columns.
        assert [s.text_columns for s in started.sources] == [["b"], ["b"]]
        assert (started.operation.type, started.operation.status) == (
            OperationType.REINDEX,
            OperationStatus.PENDING,
        )
        operation = app.read_model.operations[started.operation.id]
        assert set(operation.source_ids) == {*ids, folder.source.id}
        assert operation.params == {"columns_changed": True, "column_set": "wide"}
        before = len(app.read_model.operations)

        def batch(*source_ids: Any) -> object:
            return reembed_sources(
                app,
                ReembedSources(
                    actor="u1",
                    collection_id=view.id,
                    source_ids=list(source_ids),
                    text_columns=["c"],
                ),
            )

        # A directory takes no columns; a source twice; one unknown: nothing changes.
        assert code_of(lambda: batch(ids[0], folder.source.id)) is ErrorCode.INVALID
        assert code_of(lambda: batch(ids[0], ids[0])) is ErrorCode.INVALID
        assert code_of(lambda: batch(ids[0], view.id)) is ErrorCode.NOT_FOUND
        assert len(app.read_model.operations) == before
        assert app.read_model.sources[ids[0]].text_columns == ["b"]
        assert "source.reembed" in [entry.action for entry in app.read_model.audit]

    def test_before_a_first_completed_index_new_columns_get_a_plain_index(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        first = self.table(app, view.id, "/t1.csv")
        cmd = commands.ChangeSourceColumns(
            actor="u1", collection_id=view.id, source_id=first.source.id, text_columns=["b"]
        )
        changed = app.change_source_columns(cmd)  # queued behind the first index
        assert (changed.operation.type, changed.operation.queue_position) == (
            OperationType.INDEX,
            1,
        )
