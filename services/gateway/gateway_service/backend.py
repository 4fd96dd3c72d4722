"""The services behind the gateway, reached over the bus.

Every failure comes back as ``RpcFailure`` carrying a typed error; ``errors.py`` turns
it into an HTTP status. Only the vector count is best-effort: a collection is still
shown when the embedder is down, with ``vector_count`` 0.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TypeVar
from uuid import UUID

from pydantic import BaseModel
from semantik_contracts import ErrorCode, RpcFailure
from semantik_contracts.commands import GetCollections, ListCollections
from semantik_contracts.search import Search, SearchResponse, SearchTarget
from semantik_contracts.subjects import (
    COLLECTIONS,
    INGEST,
    SEARCH_RPC,
    VECTOR_COUNT_RPC,
    command_subject,
)
from semantik_contracts.views import CollectionList, CollectionView, Page
from semantik_contracts.work import CountVectors, VectorCount
from semantik_runtime.bus import Bus

from .collection_views import CollectionViews
from .config import GatewaySettings
from .principals import Principal
from .schemas import CollectionPublic, SearchRequest

log = logging.getLogger(__name__)
R = TypeVar("R", bound=BaseModel)


class Backend:
    def __init__(self, bus: Bus, settings: GatewaySettings) -> None:
        self.bus = bus
        self.timeout = settings.request_timeout_seconds
        self.search_timeout = settings.search_timeout_seconds
        self.collection_timeout_ms = settings.search_collection_timeout_ms
        self.count_timeout = settings.vector_count_timeout_seconds
        self.views = CollectionViews(bus)

    async def ask(self, command: BaseModel, result_type: type[R]) -> R:
        """Send a command or query to the collections service."""
        subject = command_subject(COLLECTIONS, type(command).__name__)
        try:
            return await self.bus.request(subject, command, result_type, timeout=self.timeout)
        finally:
            # Whatever it did to the collection, this gateway's next search sees it.
            collection_id = getattr(command, "collection_id", None)
            if isinstance(collection_id, UUID):
                self.views.drop(collection_id)

    async def ask_ingest(self, command: BaseModel, result_type: type[R]) -> R:
        """Send a command or query to the ingest service."""
        subject = command_subject(INGEST, type(command).__name__)
        return await self.bus.request(subject, command, result_type, timeout=self.timeout)

    async def vector_count(self, view: CollectionView) -> int:
        if view.active_generation is None:
            return 0
        query = CountVectors(collection_id=view.id, generation=view.active_generation)
        try:
            counted = await self.bus.request(
                VECTOR_COUNT_RPC, query, VectorCount, timeout=self.count_timeout
            )
        except RpcFailure as exc:
            log.debug("no vector count for %s: %s", view.id, exc)
            return 0
        return counted.count

    async def public(self, view: CollectionView) -> CollectionPublic:
        count = await self.vector_count(view)
        return CollectionPublic.model_validate({**view.model_dump(), "vector_count": count})

    async def public_page(self, page: Page[CollectionView]) -> Page[CollectionPublic]:
        items = await asyncio.gather(*(self.public(view) for view in page.items))
        return Page[CollectionPublic](
            items=list(items), total=page.total, limit=page.limit, offset=page.offset
        )

    async def search(
        self, principal: Principal, collection_ids: Iterable[UUID], request: SearchRequest
    ) -> SearchResponse:
        """Resolve the collections (access, model, active generation) in one query,
        unless this gateway kept their views, then search."""
        query, timeout = await self._search_query(principal, collection_ids, request)
        return await self.bus.request(SEARCH_RPC, query, SearchResponse, timeout=timeout)

    async def search_json(
        self, principal: Principal, collection_ids: Iterable[UUID], request: SearchRequest
    ) -> bytes:
        """``search``'s response as the search service wrote it (a ``SearchResponse``):
        the HTTP API sends it on as it is, without validating it into models and
        serialising those again (``Bus.request_json``)."""
        query, timeout = await self._search_query(principal, collection_ids, request)
        return await self.bus.request_json(SEARCH_RPC, query, timeout=timeout)

    async def _search_query(
        self, principal: Principal, collection_ids: Iterable[UUID], request: SearchRequest
    ) -> tuple[Search, float]:
        """The search service's query for these collections, and how long to wait."""
        unique = list(dict.fromkeys(collection_ids))
        principal.check_collections(unique)
        views = self.views.get(principal.cache_key, unique)
        if views is None:
            token = self.views.token()
            found = await self.ask(
                GetCollections(**principal.acting, collection_ids=unique), CollectionList
            )
            views = found.items
            self.views.keep(principal.cache_key, views, token)
        targets = [
            SearchTarget(
                collection_id=view.id, model_name=view.model_name, generation=view.active_generation
            )
            for view in views
        ]
        timeout_ms = request.timeout_ms or self.collection_timeout_ms
        query = Search(
            query=request.query,
            targets=targets,
            limit=request.limit,
            search_type=request.search_type,
            rerank=request.rerank,
            filters=request.filters,
            timeout_ms=timeout_ms,
            offset=request.offset,
            explain=request.explain,
            facets=request.facets,
            facet_depth=request.facet_depth,
        )
        # The service answers once its slowest collection is done or left out: never
        # give up on it before that.
        return query, max(self.search_timeout, timeout_ms / 1000 + 5)

    async def vector_store_answers(self) -> str | None:
        """Readiness: None when the vector store answers a count (through the embedder,
        its only owner), else why not. An unknown generation counts as an answer."""
        probe = CountVectors(collection_id=UUID(int=0), generation=1)
        try:
            await self.bus.request(VECTOR_COUNT_RPC, probe, VectorCount, timeout=2.0)
        except RpcFailure as exc:
            if exc.error.code is not ErrorCode.NOT_FOUND:
                return exc.error.message
        return None

    async def collections_answer(self) -> str | None:
        """Readiness: None when the collections service answers a query, else why not."""
        probe = ListCollections(actor="_readiness_probe", limit=1)
        subject = command_subject(COLLECTIONS, "ListCollections")
        try:
            await self.bus.request(subject, probe, Page[CollectionView], timeout=2.0)
        except RpcFailure as exc:
            return exc.error.message
        return None
