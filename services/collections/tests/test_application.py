"""The collections application on both event stores: creating and reading collections,
who may touch them, the audit log and events written by an earlier build."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from collections_service.application import CollectionsApplication
from eventsourcing.persistence import StoredEvent
from semantik_contracts import CollectionStatus, ErrorCode, OperationStatus, commands
from semantik_runtime.errors import CommandError

from services.collections.tests.application_case import (
    CollectionsApplicationCase,
    OnPostgres,
    OnSQLite,
    code_of,
)

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent / "fixtures"


class CollectionsAndAccessCase(CollectionsApplicationCase):
    """Collections, who may read and change them, and what the audit log records."""

    def test_create_uses_the_default_model_and_its_chunking(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        assert view.model_name == "sentence-transformers/all-MiniLM-L6-v2"
        assert (view.model_dimension, view.chunk_size, view.chunk_overlap) == (384, 256, 25)
        assert view.status is CollectionStatus.PENDING
        assert view.active_generation == 1

    def test_unknown_model_lists_the_available_ones(self, app: CollectionsApplication) -> None:
        with pytest.raises(CommandError) as err:
            app.create_collection(
                commands.CreateCollection(actor="u1", name="x", model_name="nope/model")
            )
        assert err.value.code is ErrorCode.INVALID
        assert "all-MiniLM-L6-v2" in err.value.message

    def test_names_are_unique_per_owner_and_quota_holds(self, app: CollectionsApplication) -> None:
        self.create(app, "a")
        assert code_of(lambda: self.create(app, "A")) is ErrorCode.CONFLICT
        self.create(app, "a", actor="u2")  # another owner may use the name
        self.create(app, "b")
        self.create(app, "c")
        with pytest.raises(CommandError) as err:
            self.create(app, "d")
        assert err.value.code is ErrorCode.QUOTA_EXCEEDED
        assert "at most 3 collections per user" in err.value.message

    def test_every_command_and_query_is_404_for_unknown_and_403_for_others(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        op_id = self.add_source(app, view.id).operation.id
        source_id = app.queries.list_sources(
            commands.ListSources(actor="u1", collection_id=view.id)
        )[0].id
        other = self.create(app, "theirs", actor="u2")
        unknown = uuid4()

        def on_collection(actor: str, cid: UUID) -> list[Callable[[], object]]:
            return [
                lambda: app.queries.get_collection(
                    commands.GetCollection(actor=actor, collection_id=cid)
                ),
                lambda: app.queries.list_operations(
                    commands.ListOperations(actor=actor, collection_id=cid)
                ),
                lambda: app.queries.list_sources(
                    commands.ListSources(actor=actor, collection_id=cid)
                ),
                lambda: app.update_collection(
                    commands.UpdateCollection(actor=actor, collection_id=cid, name="x")
                ),
                lambda: app.start_operation(
                    commands.StartOperation(actor=actor, collection_id=cid, operation_type="index")
                ),
                lambda: app.add_source(
                    commands.AddSource(actor=actor, collection_id=cid, path="/e"), "/e", "file"
                ),
                lambda: app.remove_source(
                    commands.RemoveSource(actor=actor, collection_id=cid, source_id=source_id)
                ),
                lambda: app.change_source_columns(
                    commands.ChangeSourceColumns(
                        actor=actor, collection_id=cid, source_id=source_id, text_columns=["t"]
                    )
                ),
                lambda: app.delete_collection(
                    commands.DeleteCollection(actor=actor, collection_id=cid)
                ),
            ]

        def on_operation(actor: str, oid: UUID) -> list[Callable[[], object]]:
            return [
                lambda: app.queries.get_operation(
                    commands.GetOperation(actor=actor, operation_id=oid)
                ),
                lambda: app.cancel_operation(
                    commands.CancelOperation(actor=actor, operation_id=oid)
                ),
            ]

        for call in on_collection("u2", view.id) + on_operation("u2", op_id):
            assert code_of(call) is ErrorCode.FORBIDDEN
        for call in on_collection("u1", unknown) + on_operation("u1", unknown):
            assert code_of(call) is ErrorCode.NOT_FOUND
        # A source of another collection, named under one's own, is not found there.
        for call in on_collection("u2", other.id)[6:8]:
            assert code_of(call) is ErrorCode.FORBIDDEN
        unknown_source = commands.RemoveSource(actor="u1", collection_id=view.id, source_id=unknown)
        assert code_of(lambda: app.remove_source(unknown_source)) is ErrorCode.NOT_FOUND
        # Nothing above changed anything.
        assert self.operation(app, op_id).status is OperationStatus.PENDING
        assert self.collection(app, view).name == "docs"

    def test_several_collections_are_read_in_one_query_in_the_order_asked(
        self, app: CollectionsApplication
    ) -> None:
        docs, notes = self.create(app), self.create(app, "notes")
        theirs = self.create(app, "theirs", actor="u2")

        def ask(*ids: UUID) -> list[UUID]:
            query = commands.GetCollections(actor="u1", collection_ids=list(ids))
            return [view.id for view in app.queries.get_collections(query).items]

        assert ask(notes.id, docs.id) == [notes.id, docs.id]
        assert code_of(lambda: ask(docs.id, theirs.id)) == ErrorCode.FORBIDDEN
        assert code_of(lambda: ask(uuid4(), docs.id)) == ErrorCode.NOT_FOUND

    def test_the_audit_log_has_accepted_and_rejected_commands(
        self, app: CollectionsApplication
    ) -> None:
        view = self.create(app)
        self.create(app, "theirs", actor="u2")
        with pytest.raises(CommandError):
            self.create(app, "DOCS")
        with pytest.raises(CommandError):
            app.queries.get_collection(commands.GetCollection(actor="u2", collection_id=view.id))
        with pytest.raises(CommandError):
            app.delete_collection(commands.DeleteCollection(actor="u2", collection_id=view.id))
        self.finish(app, view, self.add_source(app, view.id).operation.id)

        mine = app.queries.get_audit(commands.GetAudit(actor="u1")).items
        # The owner also sees what others did, or tried, on the collection.
        assert [(e.action, e.outcome, e.actor) for e in mine] == [
            ("operation.completed", "completed", "system"),
            ("source.add", "accepted", "u1"),
            ("collection.delete", "rejected", "u2"),
            ("collection.create", "rejected", "u1"),
            ("collection.create", "accepted", "u1"),
        ]
        assert mine[3].code == "conflict" and "exists" in mine[3].message
        assert mine[4].collection_id == view.id
        theirs = app.queries.get_audit(commands.GetAudit(actor="u2", outcome="rejected")).items
        assert [(e.action, e.code, e.target_id) for e in theirs] == [
            ("collection.delete", "forbidden", view.id)  # queries are not audited
        ]

    def test_a_rejection_that_cannot_be_audited_still_reaches_the_user(
        self, app: CollectionsApplication, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.create(app, "a")

        def store_down(*_: object) -> None:
            raise OSError("the event store is down")

        monkeypatch.setattr(app, "save", store_down)
        assert code_of(lambda: self.create(app, "A")) is ErrorCode.CONFLICT

    def test_events_written_by_an_earlier_build_load_upcast(
        self, app: CollectionsApplication
    ) -> None:
        """v1 ``CollectionCountsChanged`` had no ``size_bytes``; v2 loads it as 0."""
        written = json.loads((FIXTURES / "events_v1.json").read_text())
        app.recorder.insert_events(
            [
                StoredEvent(
                    originator_id=UUID(e["originator_id"]),
                    originator_version=e["originator_version"],
                    topic=e["topic"],
                    state=e["state"].encode(),
                )
                for e in written["events"]
            ]
        )
        app.read_model.catch_up()
        cid = UUID(written["collection_id"])
        counts = [
            app.mapper.to_domain_event(n)
            for n in app.recorder.select_notifications(1, 100)
            if n.topic.endswith("CollectionCountsChanged")
        ]
        assert [(e.chunk_count, e.size_bytes) for e in counts] == [(5, 0)]
        old = app.queries.get_collection(commands.GetCollection(actor="alice", collection_id=cid))
        assert (old.status, old.document_count, old.chunk_count, old.size_bytes) == (
            CollectionStatus.READY,
            2,
            5,
            0,
        )
        # The upgraded build carries on from there: an append is counted in v2 events.
        cmd = commands.AddSource(actor="alice", collection_id=cid, path="/srv/more")
        op = app.add_source(cmd, "/srv/more", "directory").operation
        assert op.type == "append"
        self.finish(app, old, op.id, chunks=4, size=900)
        now = app.queries.get_collection(commands.GetCollection(actor="alice", collection_id=cid))
        assert (now.document_count, now.chunk_count, now.size_bytes) == (4, 9, 900)
        stored = [
            json.loads(n.state)
            for n in app.recorder.select_notifications(1, 200)
            if n.topic.endswith("CollectionCountsChanged")
        ]
        assert [s.get("class_version", 1) for s in stored] == [1, 2]  # the version is stored


class TestWithSQLite(OnSQLite, CollectionsAndAccessCase):
    pass


class TestWithPostgres(OnPostgres, CollectionsAndAccessCase):
    pass
