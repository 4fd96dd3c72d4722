"""Search through the client: one collection or several, paged by documents, with
explain and facets (a base of ``SemantikClient``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from .connection import Connection, Id, given
from .models import SearchResponse, SearchType


class Searching(Connection):
    """``POST /api/v2/collections/{id}/search`` and ``POST /api/v2/search``."""

    async def search(
        self,
        query: str,
        collection_ids: Id | Sequence[Id],
        *,
        limit: int = 10,
        offset: int = 0,
        search_type: SearchType | str = SearchType.HYBRID,
        rerank: bool = False,
        filters: Mapping[str, Any] | None = None,
        timeout_ms: int | None = None,
        explain: bool = False,
        facets: Sequence[str] = (),
        facet_depth: int | None = None,
    ) -> SearchResponse:
        """Search one collection (an id) or several (a list of ids), merged by rank:
        ``limit`` documents after the first ``offset`` (``has_more`` says whether another
        page follows). ``explain`` adds each result's scores; ``facets`` (``file_type``,
        ``source_id``, ``mime``, ``columns.<name>``) counts each field's values over the
        first ``facet_depth`` candidate documents (the server's default: 200)."""
        body = given(
            query=query,
            limit=limit,
            offset=offset,
            search_type=str(search_type),
            rerank=rerank,
            filters=dict(filters or {}),
            timeout_ms=timeout_ms,
            explain=explain,
            facets=list(facets),
            facet_depth=facet_depth,
        )
        if isinstance(collection_ids, UUID | str):
            path = f"/api/v2/collections/{collection_ids}/search"
        else:
            path, body["collection_ids"] = "/api/v2/search", [str(c) for c in collection_ids]
        return SearchResponse.model_validate(await self.call("POST", path, json=body))
