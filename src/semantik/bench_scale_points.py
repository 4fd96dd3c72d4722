"""Collections of a chosen size for ``semantik bench scale``'s search, written straight
into their shards: encoding a million chunks would take about eleven hours on the two
cores we measure on (26 chunks/s).

Each point is what the embedder writes (``embedder_service.jobs.points_of``): a dense
vector, a BM25 vector and the payload search returns. The texts are made-up chunks of
about 120 words of ``bench search``'s Zipf-distributed vocabulary, 2,000 of them reused
round-robin, each with its real BM25 vector (``document_vector``), so that the sparse
half of a hybrid query finds as many candidates as text would give it. The dense vectors
are random unit vectors (normal, normalised), not the model's: HNSW's hardest case, as
they fill all 384 dimensions where text's embeddings crowd a few directions. The shard
is then optimised (segments merged, HNSW built), as the embedder does once a
generation's writes are quiet.
"""

from __future__ import annotations

import random
from pathlib import Path
from uuid import UUID

import numpy as np
from semantik_runtime.sparse import document_vector
from semantik_runtime.vectors import Point, SparseVector
from semantik_runtime.vectors.edge import EdgeVectorStore

from .bench_search import _vocabulary

#: Distinct chunk texts (and BM25 vectors) the points take in turn.
TEXTS = 2000
#: Words of each text (a chunk of the default model is up to 256 tokens).
WORDS = 120
#: Points upserted at a time.
BATCH = 5000


def chunk_texts(count: int, seed: int = 11) -> list[str]:
    """``count`` made-up chunks in the vocabulary ``bench search``'s queries use."""
    rng = random.Random(seed)
    words = _vocabulary(5000, 0)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    return [" ".join(rng.choices(words, weights, k=WORDS)).capitalize() + "." for _ in range(count)]


def fill_generation(root: Path, name: str, collection_id: UUID, dimension: int, count: int) -> int:
    """Write ``count`` synthetic points into generation ``name`` of the shards under
    ``root`` (no process may have them open), build its index; return its point count."""
    texts = chunk_texts(TEXTS)
    sparse = [document_vector(text) for text in texts]
    rng = np.random.default_rng(7)
    store = EdgeVectorStore(root)
    try:
        store.create_generation(name, dimension)
        for first in range(0, count, BATCH):
            size = min(BATCH, count - first)
            dense = rng.standard_normal((size, dimension), dtype=np.float32)
            dense /= np.linalg.norm(dense, axis=1, keepdims=True)
            points = []
            for k in range(size):
                number = first + k
                text = number % TEXTS
                vector = sparse[text]
                points.append(
                    Point(
                        id=str(UUID(int=(collection_id.int ^ number))),
                        dense=dense[k],
                        sparse=SparseVector(vector.indices, vector.values),
                        payload={
                            "document_id": str(UUID(int=collection_id.int ^ (number // 4 << 64))),
                            "collection_id": str(collection_id),
                            "chunk_index": number % 4,
                            "path": f"/synthetic/doc-{number // 4}.md",
                            "file_type": "md",
                            "mime": "text/markdown",
                            "text": texts[text],
                        },
                    )
                )
            store.upsert(name, points)
        store.optimize(name)
        return store.count(name)
    finally:
        store.close()
