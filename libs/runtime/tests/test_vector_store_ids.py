"""One contract for every VectorStore adapter: a query restricted to some points (``ids``)
returns just those, each with the score the unrestricted query gives it (what search's
explain reads)."""

from __future__ import annotations

import pytest
from semantik_runtime.sparse import query_vector
from semantik_runtime.vectors import VectorStore

from libs.runtime.tests.vector_store_case import (
    GEN,
    EdgeStore,
    QdrantLocalStore,
    VectorStoreCase,
    axis,
    point_id,
)

pytestmark = pytest.mark.integration

MODES = ["dense", "sparse", "hybrid"]


class VectorStoreIdsContract(VectorStoreCase):
    @pytest.mark.parametrize("mode", MODES)
    def test_a_query_over_some_points_scores_each_as_the_whole_query_does(
        self, filled: VectorStore, mode: str
    ) -> None:
        def ask(**options: object) -> dict[str, float]:
            hits = filled.query(
                GEN,
                mode=mode,  # type: ignore[arg-type]
                dense=[0.3, 0.1, 0.2, 0.9, 0.0, 0.0, 0.0, 0.0],
                sparse=query_vector("yeast marathon runners"),
                limit=10,
                **options,  # type: ignore[arg-type]
            )
            return {hit.id: hit.score for hit in hits}

        everything = ask()
        wanted = [point_id("doc-a", 1), point_id("doc-c", 0), point_id("nowhere", 0)]
        some = ask(ids=wanted)
        assert some == pytest.approx({i: everything[i] for i in wanted if i in everything})
        assert set(some) <= set(wanted[:2])
        # With a filter, both must hold.
        assert set(ask(ids=wanted, filters={"document_id": "doc-c"})) == {wanted[1]}
        assert ask(ids=[]) == {}

    def test_dense_scores_of_points_far_down_the_ranking_are_exact(
        self, filled: VectorStore
    ) -> None:
        # The point least like the query still gets its cosine (0 for an orthogonal axis).
        far = point_id("doc-b", 0)
        (hit,) = filled.query(GEN, mode="dense", dense=axis(3), sparse=None, limit=1, ids=[far])
        assert hit.id == far and hit.score == pytest.approx(0.0, abs=1e-6)


class TestEdgeVectorStoreIds(EdgeStore, VectorStoreIdsContract):
    """The ids contract on Qdrant Edge."""


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning")
class TestQdrantLocalVectorStoreIds(QdrantLocalStore, VectorStoreIdsContract):
    """The ids contract on qdrant-client's local mode."""


@pytest.mark.unit
def test_a_hit_of_an_engine_point_writes_its_id_out_once_when_read() -> None:
    import uuid
    from dataclasses import dataclass

    from semantik_runtime.vectors import Hit

    @dataclass
    class EdgePoint:  # Qdrant Edge answers ids as UUIDs
        id: uuid.UUID
        reads: int = 0

        def __getattribute__(self, name: str) -> object:
            if name == "id":
                object.__setattr__(self, "reads", object.__getattribute__(self, "reads") + 1)
            return object.__getattribute__(self, name)

    point = EdgePoint(uuid.UUID("0c912991-fb90-5ab3-b455-d64df3dde758"))
    hit = Hit.of(point, 0.5, {"document_id": "d"})
    assert point.reads == 0  # a hit whose id nobody asks for never makes it
    assert hit.id == "0c912991-fb90-5ab3-b455-d64df3dde758" and hit.id == hit.id
    assert point.reads == 1
    made = Hit(id="0c912991-fb90-5ab3-b455-d64df3dde758", score=0.5, payload={"document_id": "d"})
    assert hit == made and hit != Hit(id=made.id, score=0.25, payload=made.payload)
    assert repr(made) == (
        "Hit(id='0c912991-fb90-5ab3-b455-d64df3dde758', score=0.5, payload={'document_id': 'd'})"
    )
    with pytest.raises(TypeError, match="unhashable"):
        hash(made)
