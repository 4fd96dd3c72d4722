"""Collections through the client: create, read, find by name, page, rename, delete."""

from __future__ import annotations

import pytest

from semantik.client import ConflictError, NotFoundError

from .conftest import SignedIn

pytestmark = pytest.mark.e2e


async def test_collections_are_created_paged_renamed_and_deleted(signed_in: SignedIn) -> None:
    async with signed_in("carol") as client:
        made = [
            await client.create_collection(f"carol-{n}", description=f"number {n}")
            for n in range(5)
        ]
        assert made[0].my_role in (None, "owner") and made[0].description == "number 0"
        with pytest.raises(ConflictError) as taken:
            await client.create_collection("carol-0")
        assert "carol-0" in taken.value.detail

        first = await client.list_collections(limit=2)
        assert first.total == 5 and [c.name for c in first.items] == ["carol-0", "carol-1"]
        last = await client.list_collections(limit=2, offset=4)
        assert [c.name for c in last.items] == ["carol-4"]
        every = [c.name async for c in client.iter_collections(page_size=2)]
        assert every == [f"carol-{n}" for n in range(5)]
        narrowed = await client.list_collections(name="carol-3")
        assert [c.id for c in narrowed.items] == [made[3].id]

        found = await client.collection_by_name("carol-2")
        assert found is not None and found.id == made[2].id and found.my_role == "owner"
        assert await client.collection_by_name("carol") is None  # exact names only

        renamed = await client.update_collection(made[1].id, name="carol-one")
        assert renamed.name == "carol-one" and renamed.description == "number 1"
        described = await client.update_collection(made[1].id, description="the first")
        assert (described.name, described.description) == ("carol-one", "the first")
        assert (await client.get_collection(made[1].id)).description == "the first"

        await client.delete_collection(made[4].id)
        with pytest.raises(NotFoundError):
            await client.get_collection(made[4].id)
        assert (await client.list_collections()).total == 4
