"""Facets of a search (SPEC §6): how many candidate documents have each value of a
payload field, so that a person can narrow the search by one of them.

The candidates are the first ``facet_depth`` documents of the documents each
collection's query ranked anyway: the pool its prefetch gave the engine (the union of
the dense and sparse prefetches in hybrid mode, ``retrieval.search_pool``), fused as the
page's lists are (``fusion.fuse``), so a federated search counts over every collection
it searched, and over nothing else. The query returns more of its pool's points for
them (first ``pool_share`` of them: a federated search reads each pool only as far as
its share of the candidates, and a pool it reads to the end of what was returned, while
the engine's holds more, is asked for again whole), but its prefetch stays the page's
own: a larger prefetch cost the engine more
(p50 +11 ms over 200 candidates of three collections, docs/benchmarks.md) and could
change the page. So a search's results are the same with facets or without, and the
facets count *up to* ``facet_depth`` documents: fewer where the pools hold fewer (about
200 chunks of each collection for a first page of ten in hybrid mode).

A value is counted from the payload of the document's best chunk, which the collection's
query returns anyway: the query names the few top-level payload fields the facets read
(``payload_fields``), and a column's value is looked up in the ``columns`` object, so the
name a user typed never becomes a payload path inside the engine. The values are the
payload's own as text (``"pdf"``, a source id, a column's ``"Oslo"``, ``"2021"`` or
``"true"``), and each is a filter of the same search as it is: ``{"file_type": "pdf"}``,
``{"columns.year": "2021"}`` (a column's text value also matches the number or bool it
spells, in the vector store's filter).

Why not Qdrant's facet API (``EdgeShard.facet``, qdrant-client's ``facet``): it counts
the points that match a filter, so it needs the candidates' ids as a ``has_id`` filter
after the query, one call per key and collection, and it refuses a field without a
keyword index ("No appropriate index for faceting: `file_type`"). Generations index
only ``document_id``, and a record's columns are whatever a user uploads, so it could not
count them at all. Measured on one Qdrant Edge shard of 1,200 chunks (2 cores, loaded):
the two facet calls for ``file_type`` and ``source_id`` over 200 candidate ids took
p50 1.0 ms (once an index was made), on top of the query; the same query returning those
two fields as well took p50 0.2 ms more than with ``document_id`` only, and counting
them in Python is microseconds. So the payloads are counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from semantik_contracts.facets import COLUMNS_PREFIX, MAX_FACET_VALUES, FacetValues, facet_text
from semantik_runtime.vectors import Hit

from .fusion import RankedList, documents_of, fuse_ranks

#: The payload object that holds a record's columns.
COLUMNS = COLUMNS_PREFIX.rstrip(".")

Scalar = str | int | bool


def payload_fields(keys: Sequence[str]) -> list[str]:
    """The top-level payload fields the collections' queries return for ``keys``."""
    return sorted({COLUMNS if key.startswith(COLUMNS_PREFIX) else key for key in keys})


def pool_share(depth: int, collections: int) -> int:
    """The chunks of each collection's pool a search asks for first: twice its even
    share of ``depth`` candidate documents. The fusion takes each collection's first
    documents in turn (``fuse_ranks``), so of ``collections`` pools that hold enough,
    each gives ``depth / collections``; one that holds fewer leaves its share to the
    others, whose pools may then be read to the end of what they returned
    (``fused_candidates``). Five collections ask for 80 chunks each instead of their
    whole pools (about 200 each): each point returned costs about 1.2 us of Python, and
    the five collections' reads took +0.5 ms with the facets instead of +1.9
    (docs/benchmarks.md, session 28)."""
    return 2 * -(-depth // max(1, collections))


def fused_candidates(pools: list[RankedList], depth: int) -> tuple[list[Hit], list[int]]:
    """The first ``depth`` documents of the pools' documents, fused, each pool read only
    as far as the fusion takes documents from it (``documents_of``); and the indexes of
    the pools cut short (``RankedList.cut``) that it read to their end, whose further
    chunks could be candidates: those are to be asked for whole and fused again."""
    ended = [False] * len(pools)

    def read(index: int, hits: list[Hit]) -> Iterator[Hit]:
        yield from hits
        ended[index] = True

    lists = [(pool.collection_id, documents_of(read(i, pool.hits))) for i, pool in enumerate(pools)]
    fused = [hit for _, hit, _ in fuse_ranks(lists, depth)]
    return fused, [i for i, pool in enumerate(pools) if pool.cut and ended[i]]


def count_facets(keys: Sequence[str], candidates: Sequence[Hit]) -> FacetValues:
    """Each key's values among the candidates' payloads, the most frequent first (ties by
    value), at most ``MAX_FACET_VALUES``; a candidate without the key is not counted."""
    facets: FacetValues = {}
    for key in keys:
        # As text: a payload's 1 and "1" are one value, which one filter matches.
        counts = Counter(
            facet_text(value)
            for hit in candidates
            if (value := facet_value(hit.payload, key)) is not None
        )
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        facets[key] = dict(ranked[:MAX_FACET_VALUES])
    return facets


def facet_value(payload: Mapping[str, Any], key: str) -> Scalar | None:
    """The value of facet ``key`` in ``payload``; None if missing or not a scalar (a
    nested object or a list is no value a filter matches as it is)."""
    if key.startswith(COLUMNS_PREFIX):
        columns = payload.get(COLUMNS)
        value = columns.get(key[len(COLUMNS_PREFIX) :]) if isinstance(columns, dict) else None
    else:
        value = payload.get(key)
    return value if isinstance(value, str | int | bool) else None
