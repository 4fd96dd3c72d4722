"""HTTP schemas: ``Create``/``Update`` bodies in, ``Public`` views out (SPEC §9).

Request bodies repeat the limits of the bus commands so that bad input is a 422 naming
the field, before anything is sent. Unknown fields are ignored (clients of seed 003
send ``model_dimension`` on create, for instance).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field
from semantik_contracts import SearchType
from semantik_contracts.views import CollectionView, SourceAndOperation

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
ServerPath = Annotated[str, Field(min_length=1, max_length=4096)]


# -- auth ------------------------------------------------------------------------------
class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=USERNAME_PATTERN)
    password: str = Field(min_length=8, max_length=256)
    email: str | None = Field(None, max_length=254, pattern=EMAIL_PATTERN)


class UserLogin(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(BaseModel):
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
class CollectionCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    model_name: str | None = Field(None, min_length=1, max_length=200)
    chunk_size: int | None = Field(None, ge=32, le=8192)
    chunk_overlap: int | None = Field(None, ge=0, le=4096)


class CollectionUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)


class CollectionPublic(CollectionView):
    """A collection as clients see it; ``vector_count`` is read from the vector store."""


class SourceCreate(BaseModel):
    path: ServerPath = Field(description="Directory or file on the server")
    text_columns: list[str] = Field(default_factory=list, max_length=200)
    context_columns: list[str] = Field(default_factory=list, max_length=200)
    id_column: str | None = Field(None, min_length=1, max_length=200)


class DocumentsCreate(BaseModel):
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


class ReindexRequest(BaseModel):
    model_name: str | None = Field(None, min_length=1, max_length=200)
    chunk_size: int | None = Field(None, ge=32, le=8192)
    chunk_overlap: int | None = Field(None, ge=0, le=4096)


# -- search ------------------------------------------------------------------------------
class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    limit: int = Field(10, ge=1, le=100)
    search_type: SearchType = SearchType.HYBRID
    rerank: bool = False
    filters: dict[str, Any] = Field(default_factory=dict)


class MultiSearchRequest(SearchRequest):
    collection_ids: list[UUID] = Field(min_length=1, max_length=50)
