"""BEIR loading and the retrieval measures of ``semantik eval`` (pure, no services)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from semantik.beir import DatasetError, load_dataset, mrr_at, ndcg_at, percentile, recall_at
from semantik.evaluate import choose_split

pytestmark = pytest.mark.unit


def write_beir(directory: Path, qrels: str, split: str = "test") -> Path:
    (directory / "qrels").mkdir(parents=True)
    rows = [{"_id": "d1", "title": "Bread", "text": "Knead the dough."}]
    (directory / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    queries = [{"_id": "q1", "text": "dough"}, {"_id": "q2", "text": "unjudged"}]
    (directory / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (directory / "qrels" / f"{split}.tsv").write_text(qrels)
    return directory


def test_a_split_keeps_only_its_judged_queries(tmp_path: Path) -> None:
    data = load_dataset(write_beir(tmp_path, "query-id\tcorpus-id\tscore\nq1\td1\t1\n"), "test")
    assert (data.split, data.queries, data.qrels) == ("test", {"q1": "dough"}, {"q1": {"d1": 1}})
    assert data.corpus == (tmp_path / "corpus.jsonl").resolve()


def test_a_directory_that_is_not_beir_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"corpus\.jsonl is missing"):
        load_dataset(tmp_path, "test")
    write_beir(tmp_path / "x", "query-id\tcorpus-id\tscore\nq1\td1\n")
    with pytest.raises(DatasetError, match="separated by tabs"):
        load_dataset(tmp_path / "x", "test")
    with pytest.raises(DatasetError, match=r"train\.tsv is missing"):
        load_dataset(tmp_path / "x", "train")


def test_the_split_defaults_to_test_else_the_only_one(tmp_path: Path) -> None:
    write_beir(tmp_path, "q1\td1\t1\n", split="train")
    assert choose_split(tmp_path, None) == "train"
    assert choose_split(tmp_path, "dev") == "dev"
    (tmp_path / "qrels" / "test.tsv").write_text("q1\td1\t1\n")
    assert choose_split(tmp_path, None) == "test"


def test_measures_follow_beir() -> None:
    judged = {"a": 1, "b": 2, "z": 0}
    assert ndcg_at(["b", "a"], judged) == pytest.approx(1.0)
    ideal = 2 + 1 / math.log2(3)
    assert ndcg_at(["x", "a", "b"], judged) == pytest.approx(
        (1 / math.log2(3) + 2 / math.log2(4)) / ideal
    )
    assert recall_at(["a", "x"], judged, 100) == 0.5
    assert recall_at(["x"] * 5 + ["a"], judged, 5) == 0.0
    assert mrr_at(["x", "z", "b"], judged) == pytest.approx(1 / 3)
    assert mrr_at(["x"] * 10 + ["a"], judged) == 0.0
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([1.0, 2.0], 95) == pytest.approx(1.95)
