"""The VectorStore port: what the embedder writes and the search service reads.

The API is synchronous because both engines are (Qdrant Edge is a native library,
qdrant-client's sync client is the one with a local mode); async callers wrap calls in
``asyncio.to_thread``. Everything that differs between backends lives in the adapters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

import numpy as np
import numpy.typing as npt

__all__ = [
    "DENSE_VECTOR",
    "DOCUMENT_ID_FIELD",
    "PATH_FIELD",
    "PATH_PREFIX_FILTER",
    "SPARSE_VECTOR",
    "SPARSE_WEIGHT",
    "DenseVector",
    "GenerationNotFoundError",
    "Hit",
    "Point",
    "SearchMode",
    "SparseVector",
    "VectorStore",
]

# Names shared by both adapters, so a generation written by one reads the same in the other.
DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"
DOCUMENT_ID_FIELD = "document_id"
PATH_FIELD = "path"
#: The filter key that keeps points whose path lies under a directory.
PATH_PREFIX_FILTER = "path_prefix"
#: Hybrid score = cosine similarity + SPARSE_WEIGHT x BM25 score of the query's term
#: frequencies (``sparse.query_vector``: each term's share of the query, so the BM25
#: scale does not grow with the query's length). Both scores are exact for every
#: candidate of either prefetch. The default when a query names no weight; each model's
#: own is ``semantik_runtime.models.hybrid_weight``. Tuned on SciFact train with the
#: default model (``python -m semantik.tune_hybrid --grid``): NDCG@10 0.743 (plateau 0.12
#: to 0.14), against 0.719 for the best weighted RRF (k=60), 0.738 for distribution-based
#: score fusion and 0.737 for a min-max convex combination (docs/benchmarks.md).
SPARSE_WEIGHT = 0.13

SearchMode = Literal["dense", "sparse", "hybrid"]
DenseVector = Sequence[float] | npt.NDArray[np.float32]


class GenerationNotFoundError(LookupError):
    """A write or optimize named a generation that does not exist (or was just dropped)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no vector generation {name!r}")
        self.name = name


@dataclass(frozen=True, slots=True)
class SparseVector:
    """A sparse vector: parallel lists of unique dimension indices and their values."""

    indices: list[int]
    values: list[float]


@dataclass(frozen=True, slots=True)
class Point:
    """One chunk as stored: a UUID string id, both vectors, and its payload."""

    id: str
    dense: DenseVector
    sparse: SparseVector
    payload: dict[str, Any]


class Identified(Protocol):
    """A point an engine returned: its id, as the engine's client makes it."""

    @property
    def id(self) -> object: ...


class Hit:
    """One search result: the point's id, its score in the query's mode, its payload.

    A hit made from an engine's point (``Hit.of``) writes the point's id out as text
    only when ``id`` is first read. Qdrant Edge answers each id as a ``uuid.UUID``, made
    and written out at about 1.5 us a point, and most points a query returns are never
    asked for theirs: the facets' candidates (up to 200 points a collection) need only
    their payloads, and a document's later chunks are dropped for its best. Treat a hit
    as read-only.
    """

    __slots__ = ("_id", "_point", "payload", "score")

    def __init__(self, id: str, score: float, payload: dict[str, Any]) -> None:
        self._id: str | None = id
        self._point: Identified | None = None
        self.score = score
        self.payload = payload

    @classmethod
    def of(cls, point: Identified, score: float, payload: dict[str, Any]) -> Hit:
        """The hit of an engine's ``point``; its id is written out when first read."""
        hit = cls.__new__(cls)
        hit._id, hit._point, hit.score, hit.payload = None, point, score, payload
        return hit

    @property
    def id(self) -> str:
        """The point's id, a UUID as text."""
        found = self._id
        if found is None:  # the point stays: two threads reading it first agree
            found = self._id = str(cast(Identified, self._point).id)
        return found

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hit):
            return NotImplemented
        return (self.id, self.score, self.payload) == (other.id, other.score, other.payload)

    __hash__ = None  # type: ignore[assignment]  # as the dataclass's: a payload is a dict

    def __repr__(self) -> str:
        return f"Hit(id={self.id!r}, score={self.score!r}, payload={self.payload!r})"


class VectorStore(ABC):
    """Generations of points with a dense and a sparse BM25 vector, and search over them.

    A generation is one physical collection (server) or shard (Edge). Write operations
    are idempotent, so a redelivered work item can be applied again safely.
    """

    #: Whether reads of several generations gain from being sent at once: a server's
    #: answers come over the network while the GIL is free. An engine in this process
    #: that keeps the GIL while it searches answers them one after another regardless.
    parallel_queries: bool = True

    @abstractmethod
    def create_generation(self, name: str, dimension: int) -> None:
        """Create generation ``name`` (cosine dense vectors of ``dimension``, sparse
        BM25 vectors with the IDF modifier, a keyword index on ``document_id``).
        Does nothing if it exists."""

    @abstractmethod
    def drop_generation(self, name: str) -> None:
        """Delete generation ``name`` and its points. Does nothing if it is missing."""

    @abstractmethod
    def has_generation(self, name: str) -> bool:
        """Return whether generation ``name`` exists."""

    @abstractmethod
    def generations(self) -> list[str]:
        """Return the names of the existing generations, sorted."""

    @abstractmethod
    def upsert(self, name: str, points: Sequence[Point]) -> None:
        """Insert ``points``, overwriting points with the same ids.

        Raises ``GenerationNotFoundError`` if the generation is missing, as do
        ``delete_points``, ``delete_document``, ``set_alias`` and ``optimize``."""

    @abstractmethod
    def delete_points(self, name: str, ids: Sequence[str]) -> None:
        """Delete the points with these ids; unknown ids are ignored."""

    @abstractmethod
    def delete_document(self, name: str, document_id: str) -> None:
        """Delete every point whose payload ``document_id`` equals ``document_id``."""

    @abstractmethod
    def count(self, name: str) -> int:
        """Return the exact number of points, or 0 if the generation is missing."""

    @abstractmethod
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
        """Return the best ``limit`` hits, best first; ``[]`` if the generation is missing.
        Each hit carries the payload keys ``payload`` names (all of them when ``None``).

        ``dense`` ranks by cosine similarity, ``sparse`` by BM25 (only points sharing a
        term with the query), ``hybrid`` takes the top ``prefetch_limit`` of each, scores
        every one of them exactly in both, and ranks them by cosine similarity +
        ``sparse_weight`` x BM25, inside the engine (the model's weight:
        ``semantik_runtime.models.hybrid_weight``). ``filters`` maps a payload key to a
        value (exact match) or a list of values (any of them matches); all keys must match.
        ``path_prefix`` (``PATH_PREFIX_FILTER``) keeps points whose ``path`` lies under
        that directory. ``ids`` keeps only those points: each gets its exact score
        (search's explain reads its results' cosine and BM25 scores so).
        """

    @abstractmethod
    def retrieve(self, name: str, ids: Sequence[str]) -> list[Hit]:
        """Return the points ``ids`` with their whole payloads (score 0), in the order
        asked; ids the generation does not hold are left out; ``[]`` if it is missing."""

    @abstractmethod
    def sample(self, name: str, limit: int) -> list[Hit]:
        """Return up to ``limit`` points with their payloads (score 0), the same ones on
        every call while the generation is unchanged; ``[]`` if it is missing."""

    @abstractmethod
    def document_chunks(
        self, name: str, document_id: str, *, limit: int, after: str | None = None
    ) -> tuple[list[Hit], str | None]:
        """Return one page of the points whose payload ``document_id`` equals
        ``document_id`` (whole payloads, score 0), at most ``limit`` of them, and the
        token of the next page (``None`` after the last). ``after`` is a token a previous
        call returned; ``None`` starts at the beginning. Points come in the engine's
        order (by id), not by chunk: callers sort on ``chunk_index``. ``([], None)`` if
        the generation is missing."""

    @abstractmethod
    def set_alias(self, alias: str, name: str) -> None:
        """Point ``alias`` at generation ``name``, atomically for readers."""

    @abstractmethod
    def optimize(self, name: str) -> None:
        """Build search indexes for generation ``name`` after a bulk load."""

    @abstractmethod
    def close(self) -> None:
        """Release the engine; the store is unusable afterwards."""
