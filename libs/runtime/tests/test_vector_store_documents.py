"""One contract for every VectorStore adapter: a document's chunks, page by page
(``document_chunks``), as the document endpoint reads them. The adapters' fixtures and
the points come from vector_store_case.py."""

from __future__ import annotations

import pytest
from semantik_runtime.sparse import document_vector
from semantik_runtime.vectors import Hit, Point, VectorStore

from libs.runtime.tests.vector_store_case import (
    ALL,
    GEN,
    EdgeStore,
    QdrantLocalStore,
    VectorStoreCase,
    axis,
    point_id,
)

pytestmark = pytest.mark.integration


def _pages(store: VectorStore, document_id: str, limit: int) -> list[list[Hit]]:
    pages: list[list[Hit]] = []
    after: str | None = None
    while True:
        hits, after = store.document_chunks(GEN, document_id, limit=limit, after=after)
        pages.append(hits)
        if after is None:
            return pages


class VectorStoreDocumentContract(VectorStoreCase):
    """What every adapter returns for one document's chunks."""

    def test_a_document_s_chunks_come_with_their_payloads_and_no_others(
        self, filled: VectorStore
    ) -> None:
        hits, after = filled.document_chunks(GEN, "doc-a", limit=10)
        assert after is None
        assert {h.id for h in hits} == {point_id("doc-a", 0), point_id("doc-a", 1)}
        by_index = {h.payload["chunk_index"]: h.payload["text"] for h in hits}
        assert by_index == {0: "protein folding in yeast cells", 1: ALL[1].payload["text"]}

    def test_a_long_document_is_read_in_disjoint_pages(self, filled: VectorStore) -> None:
        many = [
            Point(
                point_id("doc-long", i),
                axis(i % 8),
                document_vector(f"part {i}"),
                {"document_id": "doc-long", "chunk_index": i, "text": f"part {i}"},
            )
            for i in range(25)
        ]
        filled.upsert(GEN, many)
        pages = _pages(filled, "doc-long", limit=10)
        assert [len(page) for page in pages] == [10, 10, 5]
        indices = [h.payload["chunk_index"] for page in pages for h in page]
        assert sorted(indices) == list(range(25))  # each chunk once, none of another document

    def test_an_unknown_document_or_generation_has_no_chunks(self, filled: VectorStore) -> None:
        assert filled.document_chunks(GEN, "doc-missing", limit=5) == ([], None)
        assert filled.document_chunks("c9_g1", "doc-a", limit=5) == ([], None)

    def test_a_deleted_document_has_no_chunks(self, filled: VectorStore) -> None:
        filled.delete_document(GEN, "doc-a")
        assert filled.document_chunks(GEN, "doc-a", limit=5) == ([], None)
        assert len(filled.document_chunks(GEN, "doc-b", limit=5)[0]) == 1


class TestEdgeVectorStoreDocuments(EdgeStore, VectorStoreDocumentContract):
    """Qdrant Edge."""


class TestQdrantLocalVectorStoreDocuments(QdrantLocalStore, VectorStoreDocumentContract):
    """qdrant-client's local mode (the server adapter's code)."""
