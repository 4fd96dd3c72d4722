"""A user's re-scan of one source (``RescanSource``): an incremental ``index`` of that
source alone, trigger ``user``, queued behind a running operation and never twice; an
editor's right; an unknown source, another user's or a viewer's request refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from collections_service.application import CollectionsApplication
from collections_service.source_sync import rescan_source
from semantik_contracts import CollectionRole, ErrorCode, OperationType, PrincipalType, commands
from semantik_runtime.eventstore import event_store_env

from services.collections.tests.application_case import code_of


@pytest.fixture
def app(tmp_path: Path) -> Any:
    application = CollectionsApplication(env=event_store_env("collections", None, tmp_path))
    yield application
    application.close()


def test_a_rescan_indexes_that_source_alone_queued_once(app: CollectionsApplication) -> None:
    collection = app.create_collection(commands.CreateCollection(actor="ada", name="notes"))
    cid = collection.id
    first, second = (
        app.add_source(commands.AddSource(actor="ada", collection_id=cid, path=p), p, "directory")
        for p in ("/srv/notes", "/srv/mail")
    )
    rescan = commands.RescanSource(actor="ada", collection_id=cid, source_id=second.source.id)
    started = rescan_source(app, rescan)
    operation = started.operation
    assert operation is not None and operation.type is OperationType.INDEX
    assert (operation.status, operation.trigger, operation.requested_by) == (
        "queued",
        "user",
        "ada",
    )
    assert list(app.read_model.operations[operation.id].source_ids) == [second.source.id]
    assert started.source.id == second.source.id
    again = rescan_source(app, rescan)  # still queued: that one is the answer
    assert again.operation is not None and again.operation.id == operation.id
    other = commands.RescanSource(actor="ada", collection_id=cid, source_id=first.source.id)
    assert rescan_source(app, other).operation.id != operation.id


def test_a_rescan_is_an_editors_right_of_a_known_source(app: CollectionsApplication) -> None:
    collection = app.create_collection(commands.CreateCollection(actor="ada", name="notes"))
    cid = collection.id
    sid = app.add_source(
        commands.AddSource(actor="ada", collection_id=cid, path="/srv/notes"),
        "/srv/notes",
        "directory",
    ).source.id
    grant = commands.GrantAccess(
        actor="ada",
        collection_id=cid,
        principal_type=PrincipalType.USER,
        principal_id="vic",
        role=CollectionRole.VIEWER,
    )
    app.grant_access(grant)

    def by(actor: str, source_id: Any = sid, collection_id: Any = cid) -> Any:
        command = commands.RescanSource(
            actor=actor, collection_id=collection_id, source_id=source_id
        )
        return lambda: rescan_source(app, command)

    assert code_of(by("vic")) is ErrorCode.FORBIDDEN
    assert code_of(by("eve")) in (ErrorCode.NOT_FOUND, ErrorCode.FORBIDDEN)
    assert code_of(by("ada", uuid4())) is ErrorCode.NOT_FOUND
    assert code_of(by("ada", sid, uuid4())) is ErrorCode.NOT_FOUND
    app.remove_source(commands.RemoveSource(actor="ada", collection_id=cid, source_id=sid))
    assert code_of(by("ada")) is ErrorCode.NOT_FOUND
    assert len(app.read_model.operations) == 2  # the add and the removal: no rescan stored
