"""Two replicas of the collections service on one event store (SPEC §14): the shared
consumers hand an operation's events to either, whichever replica requested it."""

from __future__ import annotations

import pytest
from collections_service.application import CollectionsApplication
from semantik_contracts import OperationStatus

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
