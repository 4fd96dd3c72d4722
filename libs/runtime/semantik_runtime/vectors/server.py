"""VectorStore on a Qdrant server through qdrant-client: one collection per generation.

The same code runs against qdrant-client's local mode (``QdrantClient(":memory:")``),
which the tests use as the server's stand-in. Local mode is never a runtime backend:
its sparse search is pure Python, hundreds of times slower than Qdrant Edge.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from qdrant_client import QdrantClient, models

from .common import check_generation_name, check_query, in_order, to_hits
from .port import (
    DENSE_VECTOR,
    DOCUMENT_ID_FIELD,
    SPARSE_VECTOR,
    SPARSE_WEIGHT,
    DenseVector,
    GenerationNotFoundError,
    Hit,
    Point,
    SearchMode,
    SparseVector,
    VectorStore,
)
from .server_query import document_filter, run_query, server_point

__all__ = ["QdrantLayout", "QdrantServerVectorStore"]

Quantization = Literal["none", "int8"]


@dataclass(frozen=True, slots=True)
class QdrantLayout:
    """How a new generation's collection is laid out on the server (``SEMANTIK_QDRANT_*``;
    docs/deploy.md, "100 million chunks"). None leaves a choice to the server's defaults
    (one shard; its configured replication factor).

    ``int8`` keeps an int8 copy of the dense vectors in RAM for the search and the
    float32 originals on disk, which rescore the candidates, with the sparse index on
    disk too: about a quarter of the RAM per chunk. Existing generations keep their
    layout; a reindex lays its new generation out anew.
    """

    shards: int | None = None
    replicas: int | None = None
    quantization: Quantization = "none"

    def collection(self) -> dict[str, Any]:
        """``create_collection``'s arguments beyond the vectors' names and sizes."""
        quantized = self.quantization == "int8"
        settings: dict[str, Any] = {
            "shard_number": self.shards,
            "replication_factor": self.replicas,
            "quantization_config": models.ScalarQuantization(
                scalar=models.ScalarQuantizationConfig(
                    type=models.ScalarType.INT8, quantile=0.99, always_ram=True
                )
            )
            if quantized
            else None,
        }
        return {key: value for key, value in settings.items() if value is not None}


class QdrantServerVectorStore(VectorStore):
    """Generations as collections named ``<name>`` on the server behind ``client``, each
    laid out as ``layout`` says when it is made.

    ``generations()`` lists every collection on the server, so a server shared with
    other applications shows theirs too. ``close()`` closes ``client``.
    """

    def __init__(self, client: QdrantClient, layout: QdrantLayout | None = None) -> None:
        self._client = client
        self._layout = layout or QdrantLayout()

    def create_generation(self, name: str, dimension: int) -> None:
        check_generation_name(name)
        if not self._client.collection_exists(name):
            self._create_collection(name, dimension)
        # Always (re)applied: it is idempotent, and a crash may have come between the two.
        self._client.create_payload_index(
            name, DOCUMENT_ID_FIELD, models.PayloadSchemaType.KEYWORD, wait=True
        )

    def _create_collection(self, name: str, dimension: int) -> None:
        try:
            on_disk = True if self._layout.quantization == "int8" else None
            self._client.create_collection(
                name,
                vectors_config={
                    DENSE_VECTOR: models.VectorParams(
                        size=dimension, distance=models.Distance.COSINE, on_disk=on_disk
                    )
                },
                sparse_vectors_config={
                    SPARSE_VECTOR: models.SparseVectorParams(
                        modifier=models.Modifier.IDF,
                        index=models.SparseIndexParams(on_disk=on_disk) if on_disk else None,
                    )
                },
                **self._layout.collection(),
            )
        except Exception:
            # Another writer created it between the check and the call: that is success.
            if not self._client.collection_exists(name):
                raise

    def drop_generation(self, name: str) -> None:
        if self._client.collection_exists(name):
            self._client.delete_collection(name)

    def has_generation(self, name: str) -> bool:
        return self._client.collection_exists(name)

    def generations(self) -> list[str]:
        return sorted(c.name for c in self._client.get_collections().collections)

    @contextmanager
    def _generation(self, name: str) -> Iterator[None]:
        """Turn a failure on a missing collection into ``GenerationNotFoundError``."""
        try:
            yield
        except Exception as error:
            # Errors for a missing collection differ (ValueError locally, a 404 response
            # from a server), so a failed call asks whether the collection exists rather
            # than paying an extra round trip before every call.
            if self._client.collection_exists(name):
                raise
            raise GenerationNotFoundError(name) from error

    def upsert(self, name: str, points: Sequence[Point]) -> None:
        if not points:
            return
        batch = [server_point(p) for p in points]
        with self._generation(name):
            self._client.upsert(name, points=batch, wait=True)

    def delete_points(self, name: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        with self._generation(name):
            self._client.delete(name, points_selector=models.PointIdsList(points=list(ids)))

    def delete_document(self, name: str, document_id: str) -> None:
        # Served by the keyword index on document_id that every generation gets.
        where = document_filter(document_id)
        with self._generation(name):
            self._client.delete(name, points_selector=models.FilterSelector(filter=where))

    def count(self, name: str) -> int:
        try:
            with self._generation(name):
                return self._client.count(name, exact=True).count
        except GenerationNotFoundError:
            return 0

    def query(
        self,
        name: str,
        *,
        mode: SearchMode,
        dense: DenseVector | None,
        sparse: SparseVector | None,
        limit: int,
        filters: Mapping[str, Any] | None = None,
        prefetch_limit: int = 100,
        payload: Sequence[str] | None = None,
        sparse_weight: float = SPARSE_WEIGHT,
        ids: Sequence[str] | None = None,
    ) -> list[Hit]:
        check_query(mode, dense, sparse, limit)
        try:
            with self._generation(name):
                found = run_query(
                    self._client,
                    name,
                    mode,
                    dense,
                    sparse,
                    limit,
                    filters,
                    prefetch_limit,
                    True if payload is None else list(payload),
                    sparse_weight,
                    ids,
                )
        except GenerationNotFoundError:
            return []
        return to_hits(found, mode)

    def retrieve(self, name: str, ids: Sequence[str]) -> list[Hit]:
        if not ids:
            return []
        try:
            with self._generation(name):
                records = self._client.retrieve(name, list(ids), with_payload=True)
        except GenerationNotFoundError:
            return []
        return in_order(ids, [(str(r.id), dict(r.payload or {})) for r in records])

    def sample(self, name: str, limit: int) -> list[Hit]:
        if limit < 1:
            return []
        try:
            with self._generation(name):
                records, _ = self._client.scroll(name, limit=limit, with_payload=True)
        except GenerationNotFoundError:
            return []
        return [Hit(id=str(r.id), score=0.0, payload=dict(r.payload or {})) for r in records]

    def document_chunks(
        self, name: str, document_id: str, *, limit: int, after: str | None = None
    ) -> tuple[list[Hit], str | None]:
        if limit < 1:
            return [], None
        try:
            with self._generation(name):
                records, following = self._client.scroll(
                    name,
                    scroll_filter=document_filter(document_id),
                    limit=limit,
                    offset=after,
                    with_payload=True,
                )
        except GenerationNotFoundError:
            return [], None
        hits = [Hit(id=str(r.id), score=0.0, payload=dict(r.payload or {})) for r in records]
        return hits, None if following is None else str(following)

    def set_alias(self, alias: str, name: str) -> None:
        """Move ``alias`` to collection ``name`` in one request, so readers switch atomically."""
        if not self._client.collection_exists(name):
            raise GenerationNotFoundError(name)
        operations: list[models.AliasOperations] = []
        if any(a.alias_name == alias for a in self._client.get_aliases().aliases):
            operations.append(
                models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias))
            )
        operations.append(
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=name, alias_name=alias)
            )
        )
        self._client.update_collection_aliases(operations)

    def optimize(self, name: str) -> None:
        """Do nothing but check ``name``: a server builds its indexes in the background."""
        if not self._client.collection_exists(name):
            raise GenerationNotFoundError(name)

    def close(self) -> None:
        self._client.close()
