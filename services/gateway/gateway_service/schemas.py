"""HTTP schemas: ``Create``/``Update`` bodies in, ``Public`` views out (SPEC §9).

Request bodies repeat the limits of the bus commands so that bad input is a 422 naming
the field, before anything is sent. Unknown fields are ignored (clients of seed 003
send ``model_dimension`` on create, for instance).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator
from semantik_contracts import SearchType
from semantik_contracts.commands import NonBlank
from semantik_contracts.facets import DEFAULT_FACET_DEPTH, FacetDepth, FacetKeys
from semantik_contracts.search import MAX_OFFSET, MAX_TIMEOUT_MS, MIN_TIMEOUT_MS, Filters
from semantik_contracts.sync import SourceSync
from semantik_contracts.views import CollectionView, OperationView, SourceAndOperation, SourceView

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
ServerPath = Annotated[str, Field(min_length=1, max_length=4096)]


def _unencodable(value: Any, path: str) -> tuple[str, str] | None:
    """The path of the first string that is not text, and why: an unpaired surrogate
    (UTF-8 cannot carry it) or a NUL (C strings, file names and PostgreSQL text end
    there)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "body", "text must be valid Unicode (unpaired surrogate)"
        if "\x00" in value:
            return path or "body", "text must not contain NUL characters"
        return None
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _unencodable(key, path) or _unencodable(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


class RequestBody(BaseModel):
    """A client's JSON body. JSON may escape an unpaired surrogate (``\\ud800``) that no
    UTF-8 message, store or response can carry, or a NUL: refuse them here as a 422."""

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        found = _unencodable(data, "")
        if found is not None:
            raise ValueError(f"{found[0]}: {found[1]}")
        return data


# -- auth ------------------------------------------------------------------------------
class UserCreate(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "alice",
                    "password": "correct horse battery",
                    "email": "alice@example.org",
                }
            ]
        }
    )

    username: str = Field(min_length=3, max_length=64, pattern=USERNAME_PATTERN)
    password: str = Field(min_length=8, max_length=256)
    invite_code: str | None = Field(
        None, min_length=1, max_length=200, description="Needed when registration is by invite"
    )
    email: str | None = Field(None, max_length=254, pattern=EMAIL_PATTERN)


class UserLogin(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"username": "alice", "password": "correct horse battery"}]}
    )

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"refresh_token": "eyJhbGciOiJIUzI1NiIs..."}]}
    )

    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires")


class UserPublic(BaseModel):
    id: UUID
    username: str
    email: str | None
    created_at: datetime


# -- collections ------------------------------------------------------------------------
class CollectionCreate(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Engineering Docs",
                    "description": "Technical documentation",
                    "chunk_size": 256,
                    "chunk_overlap": 25,
                }
            ]
        }
    )

    name: NonBlank = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    model_name: str | None = Field(None, min_length=1, max_length=200)
    chunk_size: int | None = Field(None, ge=32, le=8192)
    chunk_overlap: int | None = Field(None, ge=0, le=4096)


class CollectionUpdate(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "Engineering handbook", "description": "Design notes and runbooks"}
            ]
        }
    )

    name: NonBlank | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)


class CollectionPublic(CollectionView):
    """A collection as clients see it; ``vector_count`` is read from the vector store."""


class SourceCreate(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"path": "/srv/docs/handbook"},
                {
                    "path": "/srv/data/tickets.csv",
                    "text_columns": ["title", "body"],
                    "context_columns": ["team"],
                    "id_column": "ticket_id",
                },
            ]
        }
    )

    path: ServerPath = Field(description="Directory or file on the server")
    text_columns: list[str] = Field(default_factory=list, max_length=200)
    context_columns: list[str] = Field(default_factory=list, max_length=200)
    id_column: str | None = Field(None, min_length=1, max_length=200)
    sync: SourceSync = Field(
        default_factory=SourceSync,
        description="Follow the files: watch (notifications) and/or re-scan every "
        "interval_minutes (1..10080); a path on the server only",
    )


class SourcePreview(RequestBody):
    """A path on the server to look at before adding it as a source."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"path": "/srv/data/tickets.csv"}]})

    path: ServerPath = Field(description="Directory or file on the server")


class SourceColumnsUpdate(RequestBody):
    """A record source's new column preference set; the source is embedded again."""

    text_columns: list[str] = Field(max_length=200, description="Columns to embed")
    context_columns: list[str] = Field(default_factory=list, max_length=200)
    id_column: str | None = Field(None, min_length=1, max_length=200)


class SourceUpdate(RequestBody):
    """New columns (a record source, embedded again), new sync settings, or both."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"sync": {"watch": True, "interval_minutes": None}},
                {"text_columns": ["title", "body"], "context_columns": ["team"]},
            ]
        }
    )

    text_columns: list[str] | None = Field(None, max_length=200, description="Columns to embed")
    context_columns: list[str] = Field(default_factory=list, max_length=200)
    id_column: str | None = Field(None, min_length=1, max_length=200)
    sync: SourceSync | None = Field(None, description="Watch and schedule; null: unchanged")

    @model_validator(mode="after")
    def _something(self) -> SourceUpdate:
        if self.text_columns is None and self.sync is None:
            raise ValueError("give text_columns (new columns) or sync (watch and schedule)")
        return self

    @property
    def columns(self) -> SourceColumnsUpdate | None:
        if self.text_columns is None:
            return None
        return SourceColumnsUpdate(
            text_columns=self.text_columns,
            context_columns=self.context_columns,
            id_column=self.id_column,
        )


class SourceUpdated(BaseModel):
    """The source as changed, and the operation that embeds it again (new columns only)."""

    source: SourceView
    operation: OperationView | None = None


class DocumentsCreate(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"paths": ["/srv/docs/handbook", "/srv/docs/runbooks"]}]}
    )

    paths: list[ServerPath] = Field(min_length=1, max_length=100)


class PathRefused(BaseModel):
    path: str
    status_code: int
    detail: str


class DocumentsAdded(BaseModel):
    added: list[SourceAndOperation]
    not_added: list[PathRefused] = Field(
        default_factory=list, description="Paths refused, each with the reason"
    )


class ReindexRequest(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"chunk_size": 200, "chunk_overlap": 20}]}
    )

    model_name: str | None = Field(None, min_length=1, max_length=200)
    chunk_size: int | None = Field(None, ge=32, le=8192)
    chunk_overlap: int | None = Field(None, ge=0, le=4096)


# -- search ------------------------------------------------------------------------------
class SearchRequest(RequestBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"query": "how do I rotate the signing key?", "limit": 10, "search_type": "hybrid"}
            ]
        }
    )

    query: str = Field(min_length=1, max_length=4000)
    limit: int = Field(10, ge=1, le=100)
    search_type: SearchType = SearchType.HYBRID
    rerank: bool = False
    filters: Filters = Field(default_factory=dict)
    timeout_ms: int | None = Field(
        None,
        ge=MIN_TIMEOUT_MS,
        le=MAX_TIMEOUT_MS,
        description="How long each collection may take, in ms; a collection that takes "
        "longer is left out with a warning (partial: true). Default: the gateway's "
        "SEARCH_COLLECTION_TIMEOUT_MS",
    )
    offset: int = Field(
        0,
        ge=0,
        le=MAX_OFFSET,
        description="Documents to skip: with limit, one page of the ranked documents",
    )
    explain: bool = Field(False, description="Add each result's scores as explain")
    facets: FacetKeys = Field(
        default_factory=list,
        description="Count each value of these fields over the candidates: file_type, "
        "source_id, mime, columns.<name> (a value refines the search as a filter)",
    )
    facet_depth: FacetDepth = DEFAULT_FACET_DEPTH


class MultiSearchRequest(SearchRequest):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "query": "incident runbook",
                    "collection_ids": ["3f2a1c9e-8b7d-4e6f-a5c4-1d2e3f4a5b6c"],
                    "limit": 20,
                    "rerank": False,
                }
            ]
        }
    )

    collection_ids: list[UUID] = Field(min_length=1, max_length=50)
