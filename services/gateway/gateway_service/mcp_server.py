"""Semantik for AI agents: an MCP server (the official ``mcp`` SDK) with three tools,
``list_collections``, ``search`` and ``get_document`` (SPEC §13).

The tools only shape arguments and answers; what they do goes through ``SemantikApi``,
so both transports share them: on the gateway (``/mcp``, streamable HTTP, ``mcp_http``)
the API is the gateway's own backend acting as the caller's API key, and for
``semantik mcp`` (stdio) it is the HTTP client. Either one raises ``ToolError`` with the
reason a call was refused, which the agent reads as the tool's error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Protocol
from uuid import UUID

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field, ValidationError
from semantik_contracts import SearchType
from semantik_contracts.search import FilterValue

from .schemas import MultiSearchRequest

__all__ = [
    "SemantikApi",
    "build_server",
    "compact_collection",
    "compact_result",
    "invalid_fields",
]

INSTRUCTIONS = (
    "Semantik is a self-hosted semantic search engine over a team's documents. Call "
    "list_collections to see which collections you may search, search to find passages "
    "(each result names its collection_id and document_id), and get_document to read a "
    "whole document's text."
)
#: What a collection says about itself in ``list_collections``.
COLLECTION_FIELDS = (
    "id",
    "name",
    "description",
    "status",
    "document_count",
    "chunk_count",
    "model_name",
    "my_role",
)
#: The most collections one search may name (the search request's limit).
MAX_TARGETS = 50
#: What a search result says (the chunk's text is the passage that matched).
RESULT_FIELDS = ("collection_id", "document_id", "path", "text", "score")


class SemantikApi(Protocol):
    """What the tools need of Semantik, as one caller (an API key or an account)."""

    async def list_collections(self) -> list[dict[str, Any]]:
        """The collections the caller may read, each as the REST API gives it."""
        ...

    async def search(self, request: MultiSearchRequest) -> dict[str, Any]:
        """The search as ``POST /api/v2/search`` answers it."""
        ...

    async def get_document(self, collection_id: UUID, document_id: UUID) -> dict[str, Any]:
        """The document as ``GET …/documents/{document_id}`` answers it."""
        ...


#: The API of the caller of one tool call (the gateway's differs per request).
ApiOf = Callable[[Context], SemantikApi]


def invalid_fields(exc: ValidationError) -> str:
    """The fields a request got wrong, for a tool's error."""
    return "invalid " + ", ".join(sorted({".".join(map(str, e["loc"])) for e in exc.errors()}))


def compact_collection(collection: dict[str, Any]) -> dict[str, Any]:
    return {key: collection[key] for key in COLLECTION_FIELDS if key in collection}


def compact_result(result: dict[str, Any]) -> dict[str, Any]:
    return {key: result[key] for key in RESULT_FIELDS if key in result}


def build_server(api_of: ApiOf) -> MCPServer:
    """The MCP server whose tools call ``api_of(context)``."""
    server: MCPServer = MCPServer("semantik", instructions=INSTRUCTIONS, version="0.1.0")
    reading = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @server.tool(annotations=reading)
    async def list_collections(ctx: Context) -> dict[str, Any]:
        """The collections you may search: id, name, description, status, counts."""
        collections = await api_of(ctx).list_collections()
        return {"collections": [compact_collection(c) for c in collections]}

    @server.tool(annotations=reading)
    async def search(
        ctx: Context,
        query: Annotated[str, Field(min_length=1, max_length=4000, description="What to find")],
        collection_ids: Annotated[
            list[UUID] | None,
            Field(max_length=50, description="Collections to search; all you may read if left out"),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Documents to return")] = 10,
        search_type: Annotated[
            SearchType, Field(description="hybrid (default), dense (meaning) or sparse (words)")
        ] = SearchType.HYBRID,
        filters: Annotated[
            dict[str, FilterValue] | None,
            Field(
                description="Payload filters: file_type, source_id, mime, path, path_prefix, "
                "document_id, record_id, columns.<name>; a value or a list of values (any "
                "of them); another key is refused"
            ),
        ] = None,
    ) -> dict[str, Any]:
        """Semantic and keyword search over your collections: the best passage of each
        matching document, best first, with its collection_id, document_id, path, text
        and score."""
        api = api_of(ctx)
        warnings: list[str] = []
        if collection_ids is None:
            readable = [UUID(str(c["id"])) for c in await api.list_collections()]
            if len(readable) > MAX_TARGETS:
                warnings.append(f"Only the first {MAX_TARGETS} collections were searched.")
            collection_ids = readable[:MAX_TARGETS]
        if not collection_ids:
            return {"results": [], "warnings": ["There is no collection you may search."]}
        try:
            request = MultiSearchRequest(
                query=query,
                collection_ids=collection_ids,
                limit=limit,
                search_type=search_type,
                filters=filters or {},
            )
        except ValidationError as exc:
            raise ToolError(f"422: {invalid_fields(exc)}") from None
        found = await api.search(request)
        answer: dict[str, Any] = {"results": [compact_result(r) for r in found["results"]]}
        warnings += found.get("warnings") or []
        if warnings:
            answer["warnings"] = warnings
        return answer

    @server.tool(annotations=reading)
    async def get_document(
        ctx: Context,
        collection_id: Annotated[UUID, Field(description="The result's collection_id")],
        document_id: Annotated[UUID, Field(description="The result's document_id")],
    ) -> dict[str, Any]:
        """A whole document: path, file type, status, its extracted text, where each
        chunk lies in it (character offsets) and a table row's columns (metadata)."""
        return await api_of(ctx).get_document(collection_id, document_id)

    return server
