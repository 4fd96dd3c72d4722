"""Semantik's Python client: typed methods over the REST API and the live events of the
WebSocket, signed in with a password, an API key, or the CLI's local account.

    async with SemantikClient("http://127.0.0.1:8080", api_key="smk_…") as client:
        found = await client.search("pricing decisions", collection_id)

The guide is ``docs/client.md``.
"""

from semantik_contracts.documents import DocumentDetail

from .api import SemantikClient
from .connection import (
    API_KEY_ENV,
    CONNECT_TIMEOUT_SECONDS,
    POLICY_VIOLATION,
    LocalAccountMissing,
    default_data_dir,
    default_url,
    local_credentials,
)
from .errors import (
    ApiError,
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    UnauthorizedError,
)
from .models import (
    ENDINGS,
    TERMINAL,
    ApiKeyCreated,
    ApiKeyPublic,
    Collection,
    Document,
    EventFrame,
    Me,
    Operation,
    Page,
    SearchResponse,
    SearchResult,
    SearchType,
    Source,
    SourceAndOperation,
    UserAdmin,
)

__all__ = [
    "API_KEY_ENV",
    "CONNECT_TIMEOUT_SECONDS",
    "ENDINGS",
    "POLICY_VIOLATION",
    "TERMINAL",
    "ApiError",
    "ApiKeyCreated",
    "ApiKeyPublic",
    "Collection",
    "ConflictError",
    "Document",
    "DocumentDetail",
    "EventFrame",
    "ForbiddenError",
    "InvalidRequestError",
    "LocalAccountMissing",
    "Me",
    "NotFoundError",
    "Operation",
    "Page",
    "SearchResponse",
    "SearchResult",
    "SearchType",
    "SemantikClient",
    "Source",
    "SourceAndOperation",
    "UnauthorizedError",
    "UserAdmin",
    "default_data_dir",
    "default_url",
    "local_credentials",
]
