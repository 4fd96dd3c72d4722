"""Two replicas of the collections service on one event store (SPEC §14): the shared
consumers hand an operation's events to either, whichever replica requested it."""

from __future__ import annotations

import pytest
from collections_service.application import CollectionsApplication
from semantik_contracts import OperationStatus, commands

from services.collections.tests.application_case import CollectionsApplicationCase, OnPostgres

pytestmark = pytest.mark.integration


class TestTwoReplicas(CollectionsApplicationCase, OnPostgres):
    def test_a_replica_counts_an_operation_another_one_requested(
        self, app: CollectionsApplication, env: dict[str, str]
    ) -> None:
        other = CollectionsApplication(env=env, quotas=self.quotas)  # started before it
        try:
            view = self.create(app)
            op_id = self.add_source(app, view.id).operation.id
            self.finish(other, view, op_id, chunks=3)  # its events, all to the other
            op = self.operation(other, op_id)
            assert (op.status, op.processed) == (OperationStatus.COMPLETED, 3)
            assert self.collection(other, view).chunk_count == 3
        finally:
            other.close()

    def test_a_replica_answers_for_what_another_one_just_made(
        self, app: CollectionsApplication, env: dict[str, str]
    ) -> None:
        """Read your writes through any replica: an id this one has not folded yet, or a
        list, reads the log's tail first (it was a 404 right after a create)."""
        other = CollectionsApplication(env=env, quotas=self.quotas)  # started before it
        try:
            view = self.create(app, "made-elsewhere")
            op_id = self.add_source(app, view.id).operation.id
            assert self.collection(other, view).name == "made-elsewhere"
            assert self.operation(other, op_id).collection_id == view.id
            app.update_collection(
                commands.UpdateCollection(actor="u1", collection_id=view.id, name="renamed")
            )
            listed = other.queries.list_collections(commands.ListCollections(actor="u1"))
            assert "renamed" in [c.name for c in listed.items]
            ops = other.queries.list_operations(
                commands.ListOperations(actor="u1", collection_id=view.id)
            )
            assert [o.id for o in ops.items] == [op_id]
        finally:
            other.close()
