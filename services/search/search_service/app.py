"""The search service: federated hybrid search over the vector store (reads only).

Each target collection is searched within its own timeout, all at once (a server) or
one after another on the store's lane (Qdrant Edge in this process: ``lane.py``); a
collection that fails or times out becomes a warning (``partial: true``) while the rest
answer.
A collection's chunks are aggregated to documents (best chunk) before the limit, and
collections are merged by reciprocal rank fusion, never by raw scores.

A query is embedded once per model, over the bus by that model's embedders; where an
embedder runs in this very process (the vector host of the embedded default), it is
asked directly, which spares two trips through the NATS server per search.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import ParamSpec, TypeVar
from uuid import UUID

import numpy as np
from semantik_contracts import ErrorCode, RpcFailure, SearchType
from semantik_contracts.documents import DocumentChunks, ReadDocumentChunks
from semantik_contracts.facets import FacetValues
from semantik_contracts.search import (
    EmbedQuery,
    Explain,
    QueryEmbeddings,
    Search,
    SearchResponse,
    SearchTarget,
)
from semantik_contracts.subjects import (
    DOCUMENT_CHUNKS_RPC,
    SEARCH_RPC,
    embed_query_subject,
    model_slug,
)
from semantik_contracts.work import generation_name
from semantik_runtime.bus import Bus
from semantik_runtime.models import hybrid_weight
from semantik_runtime.sparse import query_vector
from semantik_runtime.vectors import Hit, SparseVector, VectorStore

from .documents import read_document_chunks
from .explain import Scores, chunk_scores, explain, ranks
from .facets import count_facets, fused_candidates, payload_fields, pool_share
from .fusion import RankedList, break_ties, fuse
from .lane import StoreLane
from .rerank import RERANK_CANDIDATES, Reranker
from .results import page_results
from .retrieval import MAX_FETCH, search_pool, with_payloads

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

#: Queue group of search instances (they share requests).
SEARCH = "search"

#: The in-process query encoder of a model (texts → one vector each), if one runs here.
LocalQueries = Callable[[str], Callable[[list[str]], Awaitable[np.ndarray]] | None]

RERANK_UNAVAILABLE = (
    "Reranking was requested, but no reranker is installed (set SEMANTIK_RERANKER_PATH); "
    "results are ordered by reciprocal rank fusion."
)


class SearchService:
    def __init__(
        self,
        bus: Bus,
        store: VectorStore,
        reranker: Reranker | None = None,
        reranker_problem: str | None = None,
        local_queries: LocalQueries | None = None,
    ) -> None:
        self.bus = bus
        self.store = store
        self.reranker = reranker
        # Why a configured reranker is missing, told to whoever asks for reranking.
        self.reranker_problem = reranker_problem
        self.local_queries = local_queries
        # A store whose reads do not overlap is read one after another (lane.py).
        self._lane = None if store.parallel_queries else StoreLane()

    async def start(self, stop: asyncio.Event) -> None:
        await self.bus.serve(SEARCH_RPC, Search, self.search, queue=SEARCH)
        await self.bus.serve(
            DOCUMENT_CHUNKS_RPC, ReadDocumentChunks, self.document_chunks, queue=SEARCH
        )
        await self.bus.nc.flush()  # the subscription is live on the server once start returns

    async def close(self) -> None:
        """Let the store's lane go (the bus and the store belong to the composition root)."""
        if self._lane is not None:
            self._lane.close()

    async def _read(self, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``read(...)`` on the store's lane, or on a thread of its own where the store's
        reads overlap."""
        if self._lane is not None:
            return await self._lane.run(read, *args, **kwargs)
        return await asyncio.to_thread(read, *args, **kwargs)

    async def document_chunks(self, request: ReadDocumentChunks) -> DocumentChunks:
        return await self._read(read_document_chunks, self.store, request)

    async def search(self, request: Search) -> SearchResponse:
        started = time.perf_counter()
        # Each collection's reads end by then, facets' second reads included.
        deadline = asyncio.get_running_loop().time() + request.timeout_ms / 1000
        warnings: list[str] = []
        reranker = self.reranker if request.rerank else None
        if request.rerank and reranker is None:
            warnings.append(_rerank_unavailable(self.reranker_problem))
        end = request.offset + request.limit
        # One document past the page tells whether another page follows; a reranked
        # search ranks at least the cross-encoder's window, the same one on every page.
        depth = max(end + 1, RERANK_CANDIDATES) if reranker else end + 1
        targets = [t for t in request.targets if t.generation is not None]
        # Facets count the first facet_depth documents of the queries' pools, fused.
        candidates = pool_share(request.facet_depth, len(targets)) if request.facets else 0
        sparse = None if request.search_type == SearchType.DENSE else query_vector(request.query)
        # One query embedding per model, however many collections use it.
        embeddings: dict[str, asyncio.Task[list[float]]] = {}
        if request.search_type != SearchType.SPARSE:
            for model in {t.model_name for t in targets}:
                embeddings[model] = asyncio.create_task(self._embed(model, request))
                embeddings[model].add_done_callback(_retrieve)
        outcomes = await self._search_collections(
            targets, request, embeddings, sparse, depth, deadline, candidates
        )
        lists: list[RankedList] = []
        pools: list[RankedList] = []
        searched: list[SearchTarget] = []
        for target, outcome in zip(targets, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                warnings.append(_describe(target, outcome, request.timeout_ms))
            else:
                lists.append(outcome[0])
                pools.append(outcome[1])
                searched.append(target)
        names = {
            t.collection_id: generation_name(t.collection_id, t.generation)
            for t in targets
            if t.generation is not None
        }
        facets = await self._facets(request, searched, pools, embeddings, sparse, depth, deadline)
        ranked = fuse(lists, depth)
        reranked: dict[tuple[UUID, str], float] = {}
        if reranker is not None:
            window = await self._read(with_payloads, self.store, ranked[:RERANK_CANDIDATES], names)
            window = await asyncio.to_thread(_rerank, reranker, request.query, window)
            reranked = {(collection_id, hit.id): score for collection_id, hit, score in window}
            ranked = window + ranked[RERANK_CANDIDATES:]
        page = await self._read(with_payloads, self.store, ranked[request.offset : end], names)
        explained = await self._explain(request, page, lists, names, embeddings, reranked)
        results = page_results(request.query, page, request.offset, reranked, explained)
        return SearchResponse(
            results=results,
            warnings=warnings,
            partial=len(lists) < len(targets),
            took_ms=(time.perf_counter() - started) * 1000,
            offset=request.offset,
            has_more=len(ranked) > end,
            facets=facets,
        )

    async def _facets(
        self,
        request: Search,
        targets: list[SearchTarget],
        pools: list[RankedList],
        embeddings: dict[str, asyncio.Task[list[float]]],
        sparse: SparseVector | None,
        depth: int,
        deadline: float,
    ) -> FacetValues:
        """The counts of ``request.facets`` over the first ``facet_depth`` documents of
        the fused ``pools`` (``targets``' own, in order). A pool cut short that the
        fusion read to its end (``facets.fused_candidates``) is asked for whole, once,
        within the search's ``deadline``, and the pools fused again; one that fails or
        is not done by then keeps what it returned."""
        if not request.facets:
            return {}
        candidates, short = fused_candidates(pools, request.facet_depth)
        if short:
            again = await self._search_collections(
                [targets[index] for index in short],
                request,
                embeddings,
                sparse,
                depth,
                deadline,
                MAX_FETCH,
            )
            for index, outcome in zip(short, again, strict=True):
                if not isinstance(outcome, BaseException):
                    pools[index] = outcome[1]
            candidates, _ = fused_candidates(pools, request.facet_depth)
        return count_facets(request.facets, candidates)

    async def _explain(
        self,
        request: Search,
        page: list[tuple[UUID, Hit, float]],
        lists: list[RankedList],
        names: dict[UUID, str],
        embeddings: dict[str, asyncio.Task[list[float]]],
        reranked: dict[tuple[UUID, str], float],
    ) -> list[Explain] | None:
        """Each page result's explain, or None unless the search asked for it."""
        if not request.explain:
            return None
        models = {t.collection_id: t.model_name for t in request.targets}
        sparse = query_vector(request.query)
        scores: dict[tuple[UUID, str], Scores] = {}
        for collection_id in dict.fromkeys(c for c, _, _ in page):
            task = embeddings.get(models[collection_id])
            dense = task.result() if task is not None and task.done() else None
            ids = [hit.id for c, hit, _ in page if c == collection_id]
            found = await self._read(
                chunk_scores, self.store, names[collection_id], ids, dense, sparse
            )
            scores.update({(collection_id, chunk): pair for chunk, pair in found.items()})
        rank_of = ranks(lists)
        return [
            explain(
                scores[(collection_id, hit.id)],
                hit.score,
                rank_of[(collection_id, hit.id)],
                reranked.get((collection_id, hit.id)),
            )
            for collection_id, hit, _ in page
        ]

    async def _embed(self, model_name: str, request: Search) -> list[float]:
        local = self.local_queries(model_name) if self.local_queries is not None else None
        if local is not None:
            vectors = await local([request.query])
            return vectors[0].tolist()  # type: ignore[no-any-return]
        reply = await self.bus.request(
            embed_query_subject(model_slug(model_name)),
            EmbedQuery(model=model_name, texts=[request.query]),
            QueryEmbeddings,
            timeout=request.timeout_ms / 1000,
        )
        return reply.vectors[0]

    async def _search_collections(
        self,
        targets: list[SearchTarget],
        request: Search,
        embeddings: dict[str, asyncio.Task[list[float]]],
        sparse: SparseVector | None,
        depth: int,
        deadline: float,
        candidates: int = 0,
    ) -> list[tuple[RankedList, RankedList] | BaseException]:
        """Each target's first ``depth`` documents, and the first ``candidates`` chunks
        of the same query's pool, for the facets (``retrieval.search_pool``); or why it
        has none (its embedding failed, it raised, or it was not done within the
        request's timeout, by the loop's time ``deadline``). The collections of one
        model are read together once its query is embedded, all of them by then."""
        outcomes: list[tuple[RankedList, RankedList] | BaseException] = [
            TimeoutError() for _ in targets
        ]
        models: dict[str, list[int]] = {}
        for index, target in enumerate(targets):
            models.setdefault(target.model_name, []).append(index)
        loop = asyncio.get_running_loop()

        async def of_model(model: str, indexes: list[int]) -> None:
            embedding = embeddings.get(model)
            try:
                # Shielded: the embedding outlives a search that timed out waiting.
                wait = deadline - loop.time()
                dense = (
                    await asyncio.wait_for(asyncio.shield(embedding), wait) if embedding else None
                )
            except Exception as exc:
                for index in indexes:
                    outcomes[index] = exc
                return
            weight, fields = hybrid_weight(model), payload_fields(request.facets)
            reads = [
                functools.partial(
                    search_pool,
                    self.store,
                    generation_name(targets[index].collection_id, targets[index].generation or 0),
                    request.search_type.value,
                    dense,
                    sparse,
                    depth,
                    request.filters,
                    weight,
                    fields,
                    candidates,
                )
                for index in indexes
            ]
            found = await self._read_all(reads, deadline - loop.time())
            for index, outcome in zip(indexes, found, strict=True):
                if isinstance(outcome, BaseException):
                    outcomes[index] = outcome
                else:
                    collection_id = targets[index].collection_id
                    outcomes[index] = (
                        RankedList(collection_id, break_ties(outcome.documents)),
                        RankedList(collection_id, outcome.pool, outcome.cut),
                    )

        await asyncio.gather(*(of_model(model, indexes) for model, indexes in models.items()))
        return outcomes

    async def _read_all(
        self, reads: Sequence[Callable[[], T]], timeout: float
    ) -> list[T | BaseException]:
        """Every read's result or exception (``TimeoutError``: not done within
        ``timeout``): one after another on the store's lane, or each on a thread of its
        own where the store's reads overlap."""
        if self._lane is not None:
            return await self._lane.run_all(reads, timeout)
        found = await asyncio.gather(
            *(asyncio.wait_for(asyncio.to_thread(read), timeout) for read in reads),
            return_exceptions=True,
        )
        return list(found)


def _rerank(
    reranker: Reranker, query: str, fused: list[tuple[UUID, Hit, float]]
) -> list[tuple[UUID, Hit, float]]:
    """Reorder the fused candidates by the cross-encoder's score of each best chunk."""
    scores = reranker.scores(query, [str(hit.payload.get("text", "")) for _, hit, _ in fused])
    ranked = sorted(zip(scores, range(len(fused)), fused, strict=True), key=lambda e: -e[0])
    return [(collection_id, hit, score) for score, _, (collection_id, hit, _) in ranked]


def _rerank_unavailable(problem: str | None) -> str:
    if problem is None:
        return RERANK_UNAVAILABLE
    return f"Reranking was requested, but {problem}; results are ordered by rank fusion."


def _retrieve(task: asyncio.Task[list[float]]) -> None:
    """Mark a shared embedding's failure as seen (each collection reports it itself)."""
    if not task.cancelled():
        task.exception()


def _describe(target: SearchTarget, error: BaseException, timeout_ms: int) -> str:
    """A warning a user can act on."""
    collection = f"Collection {target.collection_id}"
    timed_out = isinstance(error, RpcFailure) and error.error.code == ErrorCode.TIMEOUT
    if isinstance(error, TimeoutError) or timed_out:
        return f"{collection} did not answer within {timeout_ms} ms and was left out."
    if isinstance(error, RpcFailure) and error.error.code == ErrorCode.UNAVAILABLE:
        return f"{collection} was left out: no embedder for model {target.model_name} is running."
    if isinstance(error, RpcFailure):
        return f"{collection} was left out: {error.error.message}."
    log.error("searching %s failed", target.collection_id, exc_info=error)
    return f"{collection} was left out: its search failed ({type(error).__name__})."
