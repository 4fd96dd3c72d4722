"""Tune hybrid search on training splits: ``python -m semantik.tune_hybrid``.

Indexes each BEIR training set as ``semantik eval`` would (``tune_data``), then ranks
every judged query in numpy (``tune_rank``) under each setting asked for and prints
NDCG@10, Recall@100 and MRR@10 per data set and their mean. ``--grid`` prints the
weight grid of the engine's fusion (cosine + weight x BM25) and the chosen weight, the
best mean NDCG@10 of the training sets; ``--explore`` prints the other options tried
(analyzer, BM25 parameters, title, fusion, aggregation, query term weighting).
``--check`` runs the chosen weight through the real engine (a Qdrant Edge shard and
the search service's own retrieval) and prints both figures.

Only training splits are tuned on (SciFact train, NFCorpus train); held-out splits
are for ``semantik eval``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from semantik_contracts.search import DEFAULT_MODEL

from .beir import load_dataset
from .tune_data import (
    CHUNK_SIZE,
    Corpus,
    Encoder,
    Vectors,
    dense_variant,
    load_corpus,
    load_queries,
    title_texts,
)
from .tune_rank import (
    Analyze,
    Fusion,
    SparseIndex,
    build_index,
    fused,
    measure,
    query_weights,
    rank_documents,
    sparse_scores,
)

#: The training splits tuned on.
TRAINING = ("scifact:train", "nfcorpus:train")
#: What the eval asks for (limit 100) and the engine's prefetch for it (retrieval.py).
LIMIT = 100
PREFETCH = 400


@dataclass(frozen=True)
class Setting:
    """One configuration of the ranking."""

    analyzer: str = "snowball"
    k1: float = 1.5
    b: float = 0.75
    avgdl: float = 150.0
    # The pipeline's since session 22: a record's title before each later chunk, on both
    # sides ("none": the chunk's text alone).
    title: str = "every"  # "none", "every" (each chunk's sparse text starts with the title)
    fusion: Fusion = Fusion("sum", 0.13)  # noqa: RUF009 (frozen: shared safely)
    decay: float = 0.0
    query_power: float = 1.0
    dense: str = "headers"  # "chunks", "headers" or "title:<g>" (tune_data.dense_variant)

    def index_key(self) -> tuple[str, float, float, float, str]:
        return (self.analyzer, self.k1, self.b, self.avgdl, self.title)


@dataclass
class Loaded:
    name: str
    corpus: Corpus
    query_ids: list[str]
    query_texts: list[str]
    query_vectors: Vectors
    qrels: dict[str, dict[str, int]]
    indexes: dict[tuple[str, float, float, float, str], SparseIndex]
    variants: Callable[[str], Vectors] | None = None  # a dense option's chunk vectors

    def dense(self, option: str) -> Vectors:
        if option == "chunks":
            return self.corpus.dense
        if self.variants is None:
            raise ValueError(f"{self.name}: no encoder for the dense option {option!r}")
        return self.variants(option)


def analyzers() -> dict[str, Analyze]:
    """The analyzers of ``sparse`` and two steps between them, by name."""
    global _ANALYZERS
    if _ANALYZERS is None:
        from semantik_runtime import sparse

        words = sparse.ANALYZERS["english"].word
        _ANALYZERS = {name: a.terms for name, a in sparse.ANALYZERS.items()}
        _ANALYZERS["snowball+es-tokens"] = sparse.Analyzer("a", words, "english", True).terms
        _ANALYZERS["porter"] = sparse.Analyzer("b", re.compile(r"\w\w+"), "porter", False).terms
    return _ANALYZERS


_ANALYZERS: dict[str, Analyze] | None = None


def _index(data: Loaded, setting: Setting) -> SparseIndex:
    key = setting.index_key()
    if key not in data.indexes:
        texts = title_texts(data.corpus) if setting.title == "every" else data.corpus.texts
        analyze = analyzers()[setting.analyzer]
        data.indexes[key] = build_index(texts, analyze, setting.k1, setting.b, setting.avgdl)
    return data.indexes[key]


def evaluate(data: Loaded, setting: Setting, mode: str = "hybrid") -> dict[str, float]:
    index = _index(data, setting)
    analyze = analyzers()[setting.analyzer]
    dense_all = data.dense(setting.dense) @ data.query_vectors.T  # chunks x queries
    runs: dict[str, list[str]] = {}
    for q, (query_id, text) in enumerate(zip(data.query_ids, data.query_texts, strict=True)):
        dense = dense_all[:, q].astype(np.float64)
        sparse = sparse_scores(index, query_weights(analyze(text), setting.query_power))
        if mode == "dense":
            chunks = np.arange(len(dense))
            scores = dense
        elif mode == "sparse":
            chunks = np.flatnonzero(sparse > 0)
            scores = sparse[chunks]
        else:
            chunks, scores = fused(dense, sparse, setting.fusion, PREFETCH)
        runs[query_id] = rank_documents(
            chunks, scores, data.corpus.record_ids, setting.decay, LIMIT
        )
    return measure(runs, data.qrels)


def load(
    spec: str, encoder: Encoder, root: Path, cache: Path, chunk_size: int = CHUNK_SIZE
) -> Loaded:
    name, _, split = spec.partition(":")
    dataset = load_dataset(root / name, split or "train")
    corpus = load_corpus(dataset, encoder, cache, chunk_size)
    ids, vectors = load_queries(dataset, encoder, cache)
    texts = [dataset.queries[q] for q in ids]
    kept: dict[str, Vectors] = {}

    def variants(option: str) -> Vectors:
        if option not in kept:
            kept[option] = dense_variant(option, corpus, encoder, cache)
        return kept[option]

    return Loaded(
        f"{name}:{dataset.split}", corpus, ids, texts, vectors, dataset.qrels, {}, variants
    )


def table(
    rows: Iterable[tuple[str, Setting, str]], sets: list[Loaded]
) -> list[tuple[str, list[float], float]]:
    """Print one line per setting (NDCG@10 per set, their mean); returns them."""
    names = "".join(f"{d.name:>17}" for d in sets)
    print(f"{'setting':<44}{names}{'mean':>8}")
    out = []
    for label, setting, mode in rows:
        figures = [evaluate(d, setting, mode)["ndcg@10"] for d in sets]
        mean = sum(figures) / len(figures)
        print(
            f"{label:<44}" + "".join(f"{f:>17.4f}" for f in figures) + f"{mean:>8.4f}", flush=True
        )
        out.append((label, figures, mean))
    return out


def grid(sets: list[Loaded], base: Setting, weights: list[float]) -> float:
    """The weight grid of the engine's fusion; returns the weight of the best mean."""
    rows = [
        (f"sum, weight {w:.3f}", replace(base, fusion=Fusion("sum", w)), "hybrid") for w in weights
    ]
    results = table(rows, sets)
    best = max(range(len(weights)), key=lambda i: (results[i][2], -weights[i]))
    print(f"chosen weight: {weights[best]:.3f} (mean NDCG@10 {results[best][2]:.4f})")
    return weights[best]


def explore(sets: list[Loaded], base: Setting) -> None:
    f = base.fusion
    rows: list[tuple[str, Setting, str]] = [
        ("dense", base, "dense"),
        ("sparse (BM25)", base, "sparse"),
        ("hybrid (base)", base, "hybrid"),
    ]
    for name in analyzers():
        rows.append((f"analyzer {name}: sparse", replace(base, analyzer=name), "sparse"))
        rows.append((f"analyzer {name}: hybrid", replace(base, analyzer=name), "hybrid"))
    for k1, b in ((0.9, 0.4), (1.2, 0.75), (1.2, 0.5), (2.0, 0.75), (1.5, 0.5), (1.5, 0.9)):
        s = replace(base, k1=k1, b=b)
        rows.append((f"k1 {k1}, b {b}: sparse", s, "sparse"))
        rows.append((f"k1 {k1}, b {b}: hybrid", s, "hybrid"))
    for avgdl in (100.0, 200.0):
        rows.append((f"avgdl {avgdl:.0f}: hybrid", replace(base, avgdl=avgdl), "hybrid"))
    untitled = replace(base, title="none", dense="chunks")
    rows.append(("no title (before session 22): sparse", untitled, "sparse"))
    rows.append(("no title (before session 22): hybrid", untitled, "hybrid"))
    rows.append(("title on the sparse side only: hybrid", replace(base, dense="chunks"), "hybrid"))
    rows.append(("title on the dense side only: hybrid", replace(base, title="none"), "hybrid"))
    for kind, weights in (
        ("rrf", (0.5, 1.0, 1.5)),
        ("dbsf", (0.5, 0.75, 1.0)),
        ("minmax", (0.2, 0.3, 0.4, 0.5)),
    ):
        for w in weights:
            rows.append(
                (f"fusion {kind}, weight {w}", replace(base, fusion=Fusion(kind, w)), "hybrid")
            )
    for decay in (0.1, 0.3, 0.5):
        rows.append((f"decayed sum of chunks, decay {decay}", replace(base, decay=decay), "hybrid"))
    for power, w in (
        (0.5, f.weight / 2),
        (0.5, f.weight / 3),
        (0.0, f.weight / 5),
        (0.0, f.weight / 8),
    ):
        s = replace(base, query_power=power, fusion=Fusion("sum", round(w, 4)))
        rows.append((f"query tf / len^{power}, weight {w:.3f}", s, "hybrid"))
    for g in (0.1, 0.2, 0.3, 0.5):
        s = replace(untitled, dense=f"title:{g}")
        rows.append((f"untitled, dense + {g} x the title's vector: hybrid", s, "hybrid"))
    table(rows, sets)


def engine_check(data: Loaded, setting: Setting, store_dir: Path) -> dict[str, float]:
    """The same hybrid ranking run by the real engine: a Qdrant Edge shard holding the
    chunks (``sparse.document_vector``: the default analyzer and BM25 parameters; the
    title before each later chunk on both sides, as ingest does, unless ``setting`` has
    none) and the search service's ``search_generation`` at ``setting``'s weight."""
    import uuid

    from search_service.retrieval import search_generation
    from semantik_runtime.sparse import document_vector, query_vector
    from semantik_runtime.vectors import Point
    from semantik_runtime.vectors.edge import EdgeVectorStore

    store = EdgeVectorStore(store_dir)
    name = "tune"
    c = data.corpus
    dense = data.dense(setting.dense)
    texts = title_texts(c) if setting.title == "every" else c.texts
    store.create_generation(name, dense.shape[1])
    points = [
        Point(
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"{i}")),
            dense[i],
            document_vector(text),
            {"document_id": c.record_ids[i]},
        )
        for i, text in enumerate(texts)
    ]
    for start in range(0, len(points), 1000):
        store.upsert(name, points[start : start + 1000])
    store.optimize(name)
    runs: dict[str, list[str]] = {}
    for q, (query_id, text) in enumerate(zip(data.query_ids, data.query_texts, strict=True)):
        hits = search_generation(
            store,
            name,
            "hybrid",
            data.query_vectors[q],
            query_vector(text),
            LIMIT,
            sparse_weight=setting.fusion.weight,
        )
        runs[query_id] = [str(h.payload["document_id"]) for h in hits]
    store.close()
    return measure(runs, data.qrels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m semantik.tune_hybrid", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--data", type=Path, default=Path("../shared/eval"), help="folder of BEIR sets"
    )
    parser.add_argument("--sets", default=",".join(TRAINING), help="name:split, comma-separated")
    parser.add_argument(
        "--cache", type=Path, default=Path(".semantik/tune"), help="vectors kept here"
    )
    parser.add_argument("--model", default=DEFAULT_MODEL.name)
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=CHUNK_SIZE,
        help=f"tokens a chunk (overlap a tenth; default {CHUNK_SIZE}, the collections' default)",
    )
    parser.add_argument(
        "--analyzer", default=None, help="the sparse analyzer (default: the current one)"
    )
    parser.add_argument(
        "--weights", default="0.04,0.06,0.08,0.10,0.12,0.13,0.14,0.16,0.18,0.20,0.25,0.30"
    )
    parser.add_argument(
        "--grid", action="store_true", help="print the weight grid and the chosen weight"
    )
    parser.add_argument("--check", action="store_true", help="the chosen weight in the engine too")
    parser.add_argument("--explore", action="store_true", help="print the other options tried")
    args = parser.parse_args(argv)
    for spec in args.sets.split(","):
        if not spec.split(":")[-1].startswith("train"):
            print(f"error: {spec} is not a training split", file=sys.stderr)
            return 2
    encoder = Encoder(args.model)
    sets = [
        load(spec, encoder, args.data, args.cache, args.chunk_size) for spec in args.sets.split(",")
    ]
    base = Setting()
    if args.analyzer:
        base = replace(base, analyzer=args.analyzer)
    if args.grid:
        weight = grid(sets, base, [float(w) for w in args.weights.split(",")])
        base = replace(base, fusion=Fusion("sum", weight))
    if args.check:
        import tempfile

        for data in sets:
            with tempfile.TemporaryDirectory() as tmp:
                engine = engine_check(data, base, Path(tmp))
            numpy_figures = evaluate(data, base)
            print(
                f"{data.name}: weight {base.fusion.weight:.3f}, NDCG@10 engine "
                f"{engine['ndcg@10']:.4f}, here {numpy_figures['ndcg@10']:.4f}; Recall@100 "
                f"{engine['recall@100']:.4f} / {numpy_figures['recall@100']:.4f}"
            )
    if args.explore:
        explore(sets, base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
