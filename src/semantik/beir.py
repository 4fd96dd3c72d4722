"""BEIR-format retrieval data and the measures ``semantik eval`` reports.

A BEIR directory holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (query id, corpus id, graded relevance,
after a header line). Measures follow BEIR (its ``EvaluateRetrieval.evaluate`` over
pytrec_eval): NDCG@k with graded gains and a log2 discount, recall@k over the relevant
documents (relevance > 0), and reciprocal rank of the first relevant document within the
top k. So do its conventions (``RULE``): a retrieved document whose id is the query's id
is dropped before the cut-offs; every query the split judges is evaluated, and one whose
judgements are all 0 scores 0 on every measure; a query the split does not judge is not
evaluated. Scores in a run (``ranking``) order as trec_eval orders them: score
descending, ties by document id descending.
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

    @property
    def without_positives(self) -> int:
        """Judged queries none of whose judgements is above 0 (each scores 0)."""
        return sum(1 for judged in self.qrels.values() if not any(g > 0 for g in judged.values()))


#: How ``semantik eval`` treats ids and judgements, as BEIR does; said in its output.
RULE = (
    "BEIR: a retrieved document whose id equals the query id is ignored; every query "
    "judged in the split is evaluated, one whose judgements are all 0 scores 0; "
    "queries not judged in the split are not evaluated"
)


def load_dataset(directory: Path, split: str) -> Dataset:
    """The queries ``split`` judges, with their judgements (BEIR keeps a query whose
    judgements are all 0: it scores 0)."""
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
    queries: dict[str, str] = {}
    with queries_file.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                query_id, text = _query(line, f"{queries_file}:{number}")
                if query_id in qrels:
                    queries[query_id] = text
    missing = [q for q in qrels if q not in queries]
    if missing:
        raise DatasetError(
            f"{len(missing)} quer{'y' if len(missing) == 1 else 'ies'} judged in "
            f"{qrels_file.name} not in {queries_file.name} (the first: {missing[0]!r})"
        )
    if not queries:
        raise DatasetError(f"{qrels_file.name} judges no query")
    return Dataset(directory.resolve().name, split, corpus.resolve(), queries, qrels)


def _query(line: str, where: str) -> tuple[str, str]:
    try:
        row = json.loads(line)
        return str(row["_id"]), str(row["text"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{where}: expected a JSON object with _id and text") from exc


def ranking(scores: dict[str, float]) -> list[str]:
    """A run's documents in trec_eval's order: score descending, ties by id descending."""
    return [d for d, _ in sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)]


def score_query(query_id: str, ranked: Sequence[str], judged: dict[str, int]) -> dict[str, float]:
    """NDCG@10, Recall@100 and MRR@10 of one query's ranking, under ``RULE``: the query's
    own id and a document's repeats (a run holds each document once) are dropped first."""
    seen, kept = {query_id}, []
    for document in ranked:
        if document not in seen:
            seen.add(document)
            kept.append(document)
    return {
        "ndcg@10": ndcg_at(kept, judged, 10),
        "recall@100": recall_at(kept, judged, 100),
        "mrr@10": mrr_at(kept, judged, 10),
    }


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
