"""BEIR-format retrieval data and the measures ``semantik eval`` reports.

A BEIR directory holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (query id, corpus id, graded relevance,
after a header line). Measures follow BEIR (pytrec_eval): NDCG@k with graded gains
and a log2 discount, recall@k over the relevant documents, and reciprocal rank of the
first relevant document within the top k.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

Qrels = dict[str, dict[str, int]]  # query id → corpus id → relevance (> 0 relevant)


class DatasetError(Exception):
    """A directory that is not a usable BEIR data set, said to the user as it is."""


@dataclass(frozen=True)
class Dataset:
    name: str
    split: str
    corpus: Path
    queries: dict[str, str]  # the split's queries only, by id
    qrels: Qrels


def load_dataset(directory: Path, split: str) -> Dataset:
    """The queries of ``split`` that have a relevant document, with their judgements."""
    corpus = directory / "corpus.jsonl"
    queries_file = directory / "queries.jsonl"
    qrels_file = directory / "qrels" / f"{split}.tsv"
    for required in (corpus, queries_file, qrels_file):
        if not required.is_file():
            raise DatasetError(f"{directory} is not a BEIR data set: {required.name} is missing")
    qrels: Qrels = {}
    with qrels_file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            fields = line.rstrip("\n").split("\t")
            if number == 0 and len(fields) == 3 and not fields[2].lstrip("-").isdigit():
                continue  # the header
            if len(fields) != 3 or not fields[2].lstrip("-").isdigit():
                raise DatasetError(
                    f"{qrels_file}:{number + 1}: expected query id, corpus id and an integer "
                    "score, separated by tabs"
                )
            query, document, score = fields
            qrels.setdefault(query, {})[document] = int(score)
    qrels = {q: judged for q, judged in qrels.items() if any(s > 0 for s in judged.values())}
    queries: dict[str, str] = {}
    with queries_file.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                if str(row["_id"]) in qrels:
                    queries[str(row["_id"])] = str(row["text"])
    if not queries:
        raise DatasetError(f"no query of {queries_file.name} is judged in {qrels_file.name}")
    return Dataset(
        directory.resolve().name, split, corpus.resolve(), queries, {q: qrels[q] for q in queries}
    )


def ndcg_at(ranked: Sequence[str], judged: dict[str, int], k: int = 10) -> float:
    gains = [judged.get(document, 0) for document in ranked[:k]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains) if g > 0)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], judged: dict[str, int], k: int = 100) -> float:
    relevant = {document for document, g in judged.items() if g > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], judged: dict[str, int], k: int = 10) -> float:
    for position, document in enumerate(ranked[:k], start=1):
        if judged.get(document, 0) > 0:
            return 1.0 / position
    return 0.0


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0 to 100) by linear interpolation, as numpy's default."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    position = (len(ordered) - 1) * p / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
