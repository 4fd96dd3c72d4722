"""Two replicas of the collections service on one event store (SPEC §14): the shared
consumers hand an operation's events to either, whichever replica requested it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from collections_service.application import CollectionsApplication
from collections_service.bootstrap import build_collections_service
from semantik_contracts import ErrorCode, OperationStatus, RpcFailure, commands
from semantik_contracts.commands import ValidatedSource, ValidateSource
from semantik_contracts.subjects import COLLECTIONS, INGEST, command_subject
from semantik_contracts.views import CollectionView, Page
from semantik_runtime.bus import Bus
from semantik_runtime.eventstore import event_store_env

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


async def test_two_services_answer_through_either_for_what_the_other_just_made(
    bus: Bus, tmp_path: Path
) -> None:
    """Read your writes through any replica: two services on one event store share the
    commands' queue group, so each request goes to either; every answer reads the log's
    tail first (a replica answered 404 for a collection the other had just created)."""
    env = event_store_env("collections", None, tmp_path)
    stop = asyncio.Event()
    apps = [CollectionsApplication(env=env), CollectionsApplication(env=env)]
    services = [
        build_collections_service(
            app, bus, operation_timeout_seconds=3600, progress_interval_seconds=0.1
        )
        for app in apps
    ]
    for service in services:
        await service.start(stop)

    async def validate(request: ValidateSource) -> ValidatedSource:  # ingest's part
        return ValidatedSource(path=request.path, kind="directory")

    await bus.serve(command_subject(INGEST, "ValidateSource"), ValidateSource, validate, queue="t")
    try:
        for n in range(9):  # each request to either replica, at random (quota: 10)
            created = await bus.request(
                cmd("CreateCollection"),
                commands.CreateCollection(actor="u1", name=f"c{n}"),
                CollectionView,
            )
            got = await bus.request(
                cmd("GetCollection"),
                commands.GetCollection(actor="u1", collection_id=created.id),
                CollectionView,
            )
            assert got.name == f"c{n}"
            renamed = commands.UpdateCollection(
                actor="u1", collection_id=created.id, description=f"d{n}"
            )
            await bus.request(cmd("UpdateCollection"), renamed, CollectionView)
            listed = await bus.request(
                cmd("ListCollections"),
                commands.ListCollections(actor="u1", limit=100),
                Page[CollectionView],
            )
            assert {c.name: c.description for c in listed.items}[f"c{n}"] == f"d{n}"
            # A name taken through one replica is refused through the other.
            with pytest.raises(RpcFailure) as taken:
                await bus.request(
                    cmd("CreateCollection"),
                    commands.CreateCollection(actor="u1", name=f"c{n}"),
                    CollectionView,
                )
            assert taken.value.error.code is ErrorCode.CONFLICT
    finally:
        stop.set()
        for service in services:
            await service.close()
        for app in apps:
            app.close()


def cmd(name: str) -> str:
    return command_subject(COLLECTIONS, name)
