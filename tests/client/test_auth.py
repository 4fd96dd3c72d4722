"""Signing the client in: a password (with renewal), an API key and its scopes, the
environment, the CLI's local account; and refusals as typed errors with the server's
message."""

from __future__ import annotations

import uuid

import pytest

from semantik.client import (
    ApiError,
    ForbiddenError,
    InvalidRequestError,
    LocalAccountMissing,
    NotFoundError,
    SemantikClient,
    UnauthorizedError,
)
from tests.e2e.conftest import RunningSystem

from .conftest import SignedIn

pytestmark = pytest.mark.e2e


async def test_a_password_signs_in_and_a_wrong_one_is_refused_in_the_servers_words(
    system: RunningSystem, signed_in: SignedIn
) -> None:
    async with signed_in("ada") as client:
        me = await client.me()
        assert me.username == "ada" and not me.is_admin
        first_refresh = client.refresh_token
        await client.refresh()  # the refresh token rotates
        assert client.refresh_token != first_refresh
        assert (await client.me()).id == me.id
        await client.logout()

    async with SemantikClient(system.url) as client:
        with pytest.raises(UnauthorizedError) as refused:
            await client.login("ada", "not the password")
        assert refused.value.status == 401 and refused.value.detail
        assert isinstance(refused.value, ApiError)  # callers catching ApiError still do
        with pytest.raises(UnauthorizedError):
            await client.list_collections()  # not signed in


async def test_the_local_account_signs_in_as_the_cli_does(system: RunningSystem) -> None:
    async with SemantikClient(system.url) as client:
        await client.login_local(system.data_dir)
        assert (await client.me()).is_admin
        with pytest.raises(LocalAccountMissing, match="no local operator account"):
            await client.login_local(system.data_dir / "nowhere")


async def test_an_api_key_acts_within_its_scopes_and_stops_when_revoked(
    system: RunningSystem, signed_in: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with signed_in("grace") as owner:
        notes = await owner.create_collection("grace-notes")
        created = await owner.create_api_key("searcher", ["search"])
        assert created.key.startswith("smk_") and created.scopes == ["search"]
        assert [key.id for key in await owner.list_api_keys()] == [created.id]

        async with SemantikClient(system.url, api_key=created.key) as key:
            assert [c.id for c in (await key.list_collections()).items] == [notes.id]
            assert (await key.get_collection(notes.id)).name == "grace-notes"
            with pytest.raises(ForbiddenError) as refused:
                await key.create_collection("not allowed")
            assert "scopes (search) do not allow" in refused.value.detail

        monkeypatch.setenv("SEMANTIK_URL", system.url)
        monkeypatch.setenv("SEMANTIK_API_KEY", created.key)
        async with SemantikClient.from_env() as from_env:
            assert from_env.base_url == system.url
            found = await from_env.collection_by_name("grace-notes")
            assert found is not None and found.id == notes.id

            await owner.delete_api_key(created.id)
            with pytest.raises(UnauthorizedError):
                await from_env.list_collections()


async def test_refusals_are_typed_errors_carrying_the_servers_message(
    signed_in: SignedIn,
) -> None:
    async with signed_in("alan") as client:
        missing = uuid.uuid4()
        with pytest.raises(NotFoundError) as unknown:
            await client.get_collection(missing)
        assert str(missing) in unknown.value.detail and unknown.value.code == "not_found"
        with pytest.raises(InvalidRequestError) as invalid:
            await client.create_collection("tiny", chunk_size=1)
        assert invalid.value.status == 422 and "chunk_size" in invalid.value.detail
        with pytest.raises(InvalidRequestError) as not_an_id:
            await client.get_operation("not-an-id")
        assert not_an_id.value.status == 422 and "operation_id" in not_an_id.value.detail
        with pytest.raises(ValueError, match="exactly one"):
            client.events()

    async with signed_in("alice") as alice, signed_in("bob") as bob:
        theirs = await alice.create_collection("alice-only")
        with pytest.raises(ForbiddenError):
            await bob.get_collection(theirs.id)
        with pytest.raises(ForbiddenError):
            await bob.delete_collection(theirs.id)
