"""Collection roles (SPEC §11): what a viewer, an editor and the owner may do, granted
to a user or to a team, as events of the collection's log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from collections_service.application import CollectionsApplication
from semantik_contracts import CollectionRole, ErrorCode, commands
from semantik_runtime.errors import CommandError
from semantik_runtime.eventstore import event_store_env

pytestmark = pytest.mark.integration


@pytest.fixture
def app(tmp_path: Path) -> Iterator[CollectionsApplication]:
    application = CollectionsApplication(env=event_store_env("collections", None, tmp_path))
    yield application
    application.close()


def refused(call: Callable[[], object]) -> CommandError:
    with pytest.raises(CommandError) as err:
        call()
    return err.value


def grant(app: CollectionsApplication, cid: Any, who: str, role: str, kind: str = "user") -> None:
    app.grant_access(
        commands.GrantAccess(
            actor="owner", collection_id=cid, principal_type=kind, principal_id=who, role=role
        )
    )


def test_each_role_allows_what_it_holds_and_refuses_the_rest(
    app: CollectionsApplication,
) -> None:
    view = app.create_collection(commands.CreateCollection(actor="owner", name="docs"))
    grant(app, view.id, "v", "viewer")
    grant(app, view.id, "e", "editor")

    def get(actor: str) -> Any:
        return app.queries.get_collection(
            commands.GetCollection(actor=actor, collection_id=view.id)
        )

    assert get("v").my_role is CollectionRole.VIEWER
    assert get("e").my_role is CollectionRole.EDITOR
    assert get("owner").my_role is CollectionRole.OWNER
    assert refused(lambda: get("stranger")).code is ErrorCode.FORBIDDEN

    def add(actor: str) -> Any:
        cmd = commands.AddSource(actor=actor, collection_id=view.id, path="/d")
        return app.add_source(cmd, "/d", "directory")

    viewer_add = refused(lambda: add("v"))
    assert viewer_add.code is ErrorCode.FORBIDDEN and "needs editor" in viewer_add.message
    added = add("e")
    cancel = commands.CancelOperation(actor="v", operation_id=added.operation.id)
    assert refused(lambda: app.cancel_operation(cancel)).code is ErrorCode.FORBIDDEN
    rename = commands.UpdateCollection(actor="e", collection_id=view.id, name="mine")
    assert "needs owner" in refused(lambda: app.update_collection(rename)).message
    delete = commands.DeleteCollection(actor="e", collection_id=view.id)
    assert refused(lambda: app.delete_collection(delete)).code is ErrorCode.FORBIDDEN
    regrant = commands.GrantAccess(
        actor="e", collection_id=view.id, principal_type="user", principal_id="x", role="editor"
    )
    assert refused(lambda: app.grant_access(regrant)).code is ErrorCode.FORBIDDEN
    # The viewer reads what the editor started; nothing of the refusals was stored.
    ops = app.queries.list_operations(commands.ListOperations(actor="v", collection_id=view.id))
    assert [op.id for op in ops.items] == [added.operation.id]
    assert [
        s.path
        for s in app.queries.list_sources(commands.ListSources(actor="v", collection_id=view.id))
    ] == ["/d"]


def test_a_team_grant_counts_for_its_members_and_the_highest_role_wins(
    app: CollectionsApplication,
) -> None:
    view = app.create_collection(commands.CreateCollection(actor="owner", name="docs"))
    grant(app, view.id, "t1", "editor", kind="team")
    grant(app, view.id, "m", "viewer")
    member = commands.GetCollection(actor="m", teams=["t1"], collection_id=view.id)
    assert app.queries.get_collection(member).my_role is CollectionRole.EDITOR
    alone = commands.GetCollection(actor="m", collection_id=view.id)
    assert app.queries.get_collection(alone).my_role is CollectionRole.VIEWER
    listed = app.queries.list_collections(commands.ListCollections(actor="x", teams=["t1"]))
    assert [(c.id, c.my_role) for c in listed.items] == [(view.id, CollectionRole.EDITOR)]


def test_a_revoke_takes_effect_at_once_and_is_audited_and_rebuilt(
    app: CollectionsApplication,
) -> None:
    view = app.create_collection(commands.CreateCollection(actor="owner", name="docs"))
    grant(app, view.id, "v", "viewer")
    revoke = commands.RevokeAccess(
        actor="owner", collection_id=view.id, principal_type="user", principal_id="v"
    )
    app.revoke_access(revoke)
    get = commands.GetCollection(actor="v", collection_id=view.id)
    assert refused(lambda: app.queries.get_collection(get)).code is ErrorCode.FORBIDDEN
    assert refused(lambda: app.revoke_access(revoke)).code is ErrorCode.NOT_FOUND
    audit = app.queries.get_audit(commands.GetAudit(actor="owner")).items
    assert [(e.action, e.outcome, e.message) for e in audit[:3]] == [
        ("access.revoke", "rejected", "grant user v not found"),
        ("access.revoke", "accepted", "user v"),
        ("access.grant", "accepted", "user v as viewer"),
    ]
    access = app.queries.get_access(commands.GetAccess(actor="owner", collection_id=view.id))
    assert access.owner == "owner" and access.grants == []
    before = app.read_model.digest()
    app.queries.rebuild()
    assert app.read_model.digest() == before


def test_ownership_is_not_granted_and_only_the_owner_reads_the_grants(
    app: CollectionsApplication,
) -> None:
    view = app.create_collection(commands.CreateCollection(actor="owner", name="docs"))
    for who, role in (("x", "owner"), ("owner", "viewer")):
        cmd = commands.GrantAccess(
            actor="owner", collection_id=view.id, principal_type="user", principal_id=who, role=role
        )
        assert refused(lambda cmd=cmd: app.grant_access(cmd)).code is ErrorCode.INVALID
    grant(app, view.id, "e", "editor")
    ask = commands.GetAccess(actor="e", collection_id=view.id)
    assert refused(lambda: app.queries.get_access(ask)).code is ErrorCode.FORBIDDEN
    access = app.queries.get_access(commands.GetAccess(actor="owner", collection_id=view.id))
    assert [(g.principal_type, g.principal_id, g.role) for g in access.grants] == [
        ("user", "e", "editor")
    ]
