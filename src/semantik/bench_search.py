"""``semantik bench search``: latency of federated hybrid search, end to end and in-process.

A private embedded Semantik gets ``--collections`` collections, each holding the corpus
of the BEIR directory ``--beir`` (SciFact: 5,183 abstracts; its first ``--documents``
if given), or else ``--documents`` made-up records of about 200 words (5,183 unless
given), ingested through the real pipeline; a kept ``--data-dir`` reuses what an
earlier run ingested, and the report says how large the collections are. Each query
then goes through HTTP, the gateway, the bus and the search service, and in turn runs
in this process on a copy of the same shards (encode the query, query each
collection's store, fuse); the difference of the medians is the overhead of the
services. Taking turns query by query puts a change of the machine's load on both sides
alike (measured one side after the other, a load that rose from 2 to 5 during the
second half moved the overhead from 3 to 18 ms).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import sys
import tempfile
import time
from contextlib import AbstractContextManager, ExitStack
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .beir import percentile
from .client import ApiError, Collection, SemantikClient
from .embedded import embedded_system
from .progress import ingest_records
from .session import own_system_login

T = TypeVar("T")

WARMUP = 10
#: Results a search asks for.
PAGE = 10
JSON = "application/json"
#: Records of a made-up collection unless ``--documents`` says: SciFact's corpus size.
SCIFACT_SIZE = 5183
# Syllables of the made-up vocabulary: word frequencies follow Zipf's law, as in text.
_SYLLABLES = "ba be bi bo ka ke ki ko la le li lo ma me mi mo na ne ni no ra re ri ro ta te ti to"


def _vocabulary(size: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    syllables = _SYLLABLES.split()
    words = {"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def write_corpus(path: Path, documents: int, seed: int) -> None:
    """``documents`` records of a title and about 200 words, as JSON lines."""
    rng = random.Random(seed)
    words = _vocabulary(5000, 0)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    with path.open("w", encoding="utf-8") as out:
        for number in range(documents):
            title = " ".join(rng.choices(words, weights, k=10)).capitalize()
            sentences = [
                " ".join(rng.choices(words, weights, k=rng.randint(12, 24))).capitalize() + "."
                for _ in range(rng.randint(8, 12))
            ]
            row = {"_id": f"{seed}-{number}", "title": title, "text": " ".join(sentences)}
            out.write(json.dumps(row) + "\n")


def make_queries(count: int) -> list[str]:
    rng = random.Random(12345)
    words = _vocabulary(5000, 0)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    return [" ".join(rng.choices(words, weights, k=rng.randint(5, 15))) for _ in range(count)]


def _corpus(args: argparse.Namespace) -> str:
    """What the collections hold, as their names and the report say it."""
    if args.beir is None:
        return f"synthetic-{args.documents or SCIFACT_SIZE}"
    name = Path(args.beir).resolve().name
    return name if args.documents is None else f"{name}-{args.documents}"


def _records(sources: Path, number: int, args: argparse.Namespace) -> Path:
    """Collection ``number``'s record file: the BEIR corpus given (its first
    ``--documents`` records, if given), else ``--documents`` made-up records."""
    if args.beir is not None:
        corpus = Path(args.beir).resolve() / "corpus.jsonl"
        if args.documents is None:
            return corpus
        part = sources / f"{_corpus(args)}.jsonl"
        if not part.exists():
            with corpus.open(encoding="utf-8") as rows:
                part.write_text("".join(islice(rows, args.documents)), encoding="utf-8")
        return part
    records = sources / f"{_corpus(args)}-{number}.jsonl"
    if not records.exists():
        write_corpus(records, args.documents or SCIFACT_SIZE, seed=number)
    return records


async def _prepare(
    client: SemantikClient, sources: Path, args: argparse.Namespace
) -> tuple[list[Collection], bool]:
    """The bench's collections, each ingested unless a kept data dir has it already
    (named after what they hold, so other corpora in the same data dir stay apart), and
    whether any was ingested now."""
    prepared = []
    ingested = False
    for number in range(1, args.collections + 1):
        name = f"bench-search-{_corpus(args)}-{number}"
        found = await client.collection_by_name(name)
        # Whole and idle in a kept data dir: measured as it is, without scanning again.
        if found is None or found.active_operation_id or not found.document_count:
            records = _records(sources, number, args)
            found = await ingest_records(client, name, records, f"ingesting {name}")
            ingested = True
        prepared.append(found)
    return prepared, ingested


class ThroughServices:
    """Searches through HTTP, gateway, bus and search service, sent over one kept-alive
    HTTP/1.1 connection with the standard library's ``http.client``, and each answer read
    whole and parsed: the client's own work stays in the time, but no more of it than a
    lean client does. httpx spent 2-4 ms of Python a request more here (p50 32.7 against
    28.8 ms, 200 queries each way in turns on the idle machine), which a user's client
    (curl, a browser) does not pay and the services do not cause.

    An expired access token is renewed once through ``client`` and the search sent again.
    """

    def __init__(self, client: SemantikClient, url: str, facets: dict[str, Any]) -> None:
        parts = urlsplit(url)
        self.client = client
        self.facets = facets
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)

    async def search(self, ids: list[str], query: str, facets: bool = True) -> float:
        """One search in milliseconds, with the facets asked for unless ``facets`` is
        false; a partial answer is an error (the bench measures every collection
        answering)."""
        body = json.dumps(
            {"query": query, "collection_ids": ids, "limit": PAGE, "search_type": "hybrid"}
            | (self.facets if facets else {})
        )
        elapsed, status, answer = self._post(body)
        if status == 401 and self.client.refresh_token:
            await self.client.refresh()
            elapsed, status, answer = self._post(body)
        if status >= 400:
            raise ApiError(status, str(answer.get("detail", answer)))
        if answer["partial"]:
            raise RuntimeError(f"a collection did not answer: {answer['warnings']}")
        return elapsed

    def _post(self, body: str) -> tuple[float, int, dict[str, Any]]:
        """Milliseconds from sending the search to its parsed answer, status, answer."""
        headers = {"Authorization": f"Bearer {self.client.token}", "Content-Type": JSON}
        started = time.perf_counter()
        self.connection.request("POST", "/api/v2/search", body, headers)
        response = self.connection.getresponse()
        answer = json.loads(response.read())
        return (time.perf_counter() - started) * 1000, response.status, answer

    def close(self) -> None:
        self.connection.close()


class InProcess:
    """The same searches without services: encode (on a query thread, as the embedder
    does), query each collection's store for a page and one document more (``has_more``),
    fuse, read the page's payloads and make its results (highlights and snippets; and
    count the facets asked for over the candidates), as the search service does.

    It opens a copy of the system's shards, made while no process had them open: a
    shard admits one process, and the copy lets both sides be measured in turns while
    the system runs."""

    def __init__(
        self,
        shards: Path,
        generations: list[tuple[Any, str]],
        facets: list[str],
        depth: int,
        choices: Path,
    ) -> None:
        from embedder_service.config import EmbedderSettings
        from embedder_service.model import WARM_QUERY_TOKENS, load_model
        from embedder_service.query_batcher import query_thread
        from semantik_runtime.vectors.edge import EdgeVectorStore

        self.generations = generations
        self.facets = facets
        self.depth = depth
        #: Pools the facets read again whole, and pools read: how often a collection's
        #: share (``facets.pool_share``) fell short of what the fusion took from it.
        self.pools_read_again = 0
        self.pools_read = 0
        # Queries encoded as the system's embedder encodes them: its settings, and its
        # documents' pass (``auto``'s choice kept in ``choices``, the system's), which
        # ``auto`` queries take where it is int8 (``EmbeddingModel.use_query_precision``).
        settings = EmbedderSettings()
        self.model = load_model(
            device="cpu",
            precision=settings.precision,
            choices_dir=choices,
            query_precision=settings.query_precision,
        )
        self.store = EdgeVectorStore(shards)
        self.encoder = query_thread()
        # Warmed as the embedder's query thread is at start (QueryBatcher).
        for tokens in range(2, WARM_QUERY_TOKENS + 1):
            self.encoder.submit(self.model.warm_query, tokens).result()

    def search(self, query: str) -> float:
        """One search, in milliseconds."""
        from search_service.facets import (
            count_facets,
            fused_candidates,
            payload_fields,
            pool_share,
        )
        from search_service.fusion import RankedList, fuse
        from search_service.results import page_results
        from search_service.retrieval import MAX_FETCH, Found, search_pool, with_payloads
        from semantik_runtime.sparse import query_vector

        started = time.perf_counter()
        dense = self.encoder.submit(self.model.encode_queries, [query]).result()[0]
        sparse = query_vector(query)
        fields = payload_fields(self.facets)

        def search(name: str, candidates: int) -> Found:
            return search_pool(
                self.store,
                name,
                "hybrid",
                dense,
                sparse,
                PAGE + 1,
                None,
                fields=fields,
                candidates=candidates,
            )

        # With facets, the candidates come from each query's own pool.
        share = pool_share(self.depth, len(self.generations)) if self.facets else 0
        found = [(cid, search(name, share)) for cid, name in self.generations]
        lists = [RankedList(cid, one.documents) for cid, one in found]
        if self.facets:
            pools = [RankedList(cid, one.pool, one.cut) for cid, one in found]
            candidates, short = fused_candidates(pools, self.depth)
            self.pools_read += len(pools)
            self.pools_read_again += len(short)
            for index in short:  # as the search service does: the pool asked for whole
                cid, name = self.generations[index]
                pools[index] = RankedList(cid, search(name, MAX_FETCH).pool)
            if short:
                candidates, _ = fused_candidates(pools, self.depth)
            count_facets(self.facets, candidates)
        page = with_payloads(self.store, fuse(lists, PAGE + 1)[:PAGE], dict(self.generations))
        page_results(query, page, 0, {}, None)
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.encoder.shutdown()
        self.store.close()


class Latencies:
    """Milliseconds per search: through the services, in one process, and, where the
    searches ask for facets, through the services without them."""

    def __init__(self) -> None:
        self.through: list[float] = []
        self.inside: list[float] = []
        self.without_facets: list[float] = []


async def _measure(
    url: str, data_dir: Path, ids: list[str], direct: InProcess, queries: list[str]
) -> Latencies:
    """Each query through the services and in-process in turns (the order swapped from
    one query to the next), so a change of the machine's load lands on both sides
    alike; the first ``WARMUP`` queries warm both and are not counted. Where the
    searches ask for facets, each query is also sent without them, in turn with the
    others (the three sides' order rotated from query to query): the facets' cost is
    the difference of two sides measured under the same load, where runs one after
    another differed by more than that cost (docs/benchmarks.md, session 27)."""
    measured = Latencies()
    async with SemantikClient(url, timeout=120) as client:
        await own_system_login(client, data_dir)
        asked = {"facets": direct.facets, "facet_depth": direct.depth} if direct.facets else {}
        served_by = ThroughServices(client, url, asked)

        async def served(query: str) -> float:
            return await served_by.search(ids, query)

        async def alone(query: str) -> float:
            return direct.search(query)

        async def plain(query: str) -> float:
            return await served_by.search(ids, query, facets=False)

        sides = [(served, measured.through), (alone, measured.inside)]
        if direct.facets:
            sides.append((plain, measured.without_facets))
        try:
            for number, query in enumerate([*queries[:WARMUP], *queries]):
                for side, times in turns(sides, number):
                    elapsed = await side(query)
                    if number >= len(queries[:WARMUP]):
                        times.append(elapsed)
        finally:
            served_by.close()
    return measured


def turns(sides: list[T], number: int) -> list[T]:
    """The order of the sides for query ``number``: the list rotated by ``number``,
    and for three sides or more reversed every other round of rotations, so that over
    ``2 x len(sides)`` queries each side goes before each other one equally often."""
    turn = number % len(sides)
    order = [*sides[turn:], *sides[:turn]]
    if len(sides) > 2 and (number // len(sides)) % 2:
        order.reverse()
    return order


def summary(measured: Latencies) -> dict[str, float]:
    """The report's figures, in milliseconds: each side's p50 and p95, the services'
    overhead (the difference of the p50s) and, where facets were asked for, their cost
    (the same searches' p50 and p95 without them, and the differences)."""
    through, inside, plain = measured.through, measured.inside, measured.without_facets
    figures = {
        "p50_ms": percentile(through, 50),
        "p95_ms": percentile(through, 95),
        "direct_p50_ms": percentile(inside, 50),
        "direct_p95_ms": percentile(inside, 95),
        "overhead_p50_ms": percentile(through, 50) - percentile(inside, 50),
    }
    if plain:
        figures |= {
            "without_facets_p50_ms": percentile(plain, 50),
            "without_facets_p95_ms": percentile(plain, 95),
            "facets_cost_p50_ms": percentile(through, 50) - percentile(plain, 50),
            "facets_cost_p95_ms": percentile(through, 95) - percentile(plain, 95),
        }
    return {key: round(value, 2) for key, value in figures.items()}


def _build_indexes(root: Path, names: list[str]) -> None:
    """Build the shards' indexes now, as the embedder does once a generation's writes
    have been quiet for a while (SEMANTIK_OPTIMIZE_AFTER_SECONDS): the system may have
    stopped right after an ingest, before it did, and both sides would then search a
    half-built index. A shard already built is left as it is."""
    from semantik_runtime.vectors.edge import EdgeVectorStore

    store = EdgeVectorStore(root)
    try:
        for name in names:
            store.optimize(name)
    finally:
        store.close()


async def _prepare_all(
    url: str, data_dir: Path, args: argparse.Namespace
) -> tuple[list[Collection], bool]:
    async with SemantikClient(url, timeout=120) as client:
        await own_system_login(client, data_dir)
        return await _prepare(client, data_dir / "sources", args)


def _queries(args: argparse.Namespace) -> list[str]:
    """The first ``--queries`` queries of the BEIR data set given, else made-up ones."""
    if args.beir is None:
        return make_queries(args.queries)
    texts = []
    with (Path(args.beir) / "queries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                texts.append(str(json.loads(line)["text"]))
            if len(texts) == args.queries:
                break
    return texts


def _system(data_dir: Path, roots: list[Path]) -> AbstractContextManager[str]:
    """The embedded system on ``data_dir``, its start said on stderr (it takes seconds)."""
    print(f"starting Semantik on {data_dir}", file=sys.stderr, flush=True)
    return embedded_system(data_dir, roots)


def bench_search(args: argparse.Namespace) -> int:
    import asyncio

    from semantik_contracts.work import generation_name

    if args.beir is not None and not (Path(args.beir) / "corpus.jsonl").is_file():
        print(f"error: {args.beir} holds no corpus.jsonl", file=sys.stderr)
        return 2
    queries = _queries(args)
    with ExitStack() as stack:
        data_dir: Path = args.data_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sources = data_dir / "sources"
        sources.mkdir(parents=True, exist_ok=True)
        roots = [sources] if args.beir is None else [sources, Path(args.beir)]
        # The in-process side opens a copy of the shards made at rest (``InProcess``). A
        # kept data dir's are at rest now, before its system starts: if they hold the
        # collections whole, one start serves both the lookup and the measurement.
        shards = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "qdrant"
        if (data_dir / "qdrant").is_dir():
            shutil.copytree(data_dir / "qdrant", shards)

        def measure(url: str, generations: list[tuple[Any, str]]) -> tuple[Latencies, InProcess]:
            """Both sides in turns, the in-process one on the copy ``shards``."""
            direct = InProcess(
                shards, generations, args.facets, args.facet_depth, data_dir / "embedder"
            )
            stack.callback(direct.close)
            ids = [str(cid) for cid, _ in generations]
            return asyncio.run(_measure(url, data_dir, ids, direct, queries)), direct

        found: tuple[Latencies, InProcess] | None = None
        with _system(data_dir, roots) as url:
            prepared, ingested = asyncio.run(_prepare_all(url, data_dir, args))
            # Each was ingested (or found whole) just now: it has an active generation.
            generations = [
                (c.id, generation_name(c.id, c.active_generation or 0)) for c in prepared
            ]
            names = [name for _, name in generations]
            if not ingested and all((shards / name).is_dir() for name in names):
                _build_indexes(shards, names)
                found = measure(url, generations)
        if found is None:
            # Ingested now: the system has stopped, its shards are at rest, and their
            # copy is what the in-process side opens while the system runs again.
            _build_indexes(data_dir / "qdrant", names)
            shutil.rmtree(shards, ignore_errors=True)
            shutil.copytree(data_dir / "qdrant", shards)
            with _system(data_dir, roots) as url:
                found = measure(url, generations)
        measured, direct = found
        query_dtype = direct.model.query_dtype
    documents = [c.document_count for c in prepared]
    chunks = [c.chunk_count for c in prepared]
    report = {
        "collections": len(prepared),
        "corpus": _corpus(args),
        "documents_per_collection": documents,
        "chunks_per_collection": chunks,
        "queries": len(queries),
        "facets": args.facets,
        "facet_depth": args.facet_depth if args.facets else None,
        # In one process, the share of the collections' pools read a second time, whole.
        "facets_pools_read_again": (
            round(direct.pools_read_again / direct.pools_read, 4) if direct.pools_read else None
        ),
        # What the in-process side's queries were encoded in (the system's are the same).
        "query_dtype": query_dtype,
        **summary(measured),
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(
            f"federated hybrid search over {len(prepared)} collections ({report['corpus']}): "
            f"{sum(documents)} documents, {sum(chunks)} chunks in all; {len(queries)} queries"
            f"{'; facets ' + ', '.join(args.facets) if args.facets else ''}"
            f"{f' over {args.facet_depth} documents' if args.facets else ''}\n"
            f"  through HTTP, gateway, bus, search: p50 {report['p50_ms']} ms, "
            f"p95 {report['p95_ms']} ms\n"
            f"  in one process:                     p50 {report['direct_p50_ms']} ms, "
            f"p95 {report['direct_p95_ms']} ms\n"
            f"  overhead p50: {report['overhead_p50_ms']} ms"
            + (
                f"\n  without the facets, in turn:        p50 {report['without_facets_p50_ms']} "
                f"ms, p95 {report['without_facets_p95_ms']} ms\n"
                f"  the facets' cost: p50 {report['facets_cost_p50_ms']} ms, "
                f"p95 {report['facets_cost_p95_ms']} ms; pools read again whole: "
                f"{report['facets_pools_read_again']}"
                if args.facets
                else ""
            ),
            file=sys.stdout,
        )
    return 0
