"""BEIR loading and the retrieval measures of ``semantik eval`` (pure, no services)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from semantik.beir import (
    DatasetError,
    load_dataset,
    mrr_at,
    ndcg_at,
    percentile,
    ranking,
    recall_at,
    score_query,
)
from semantik.evaluate import MEASURES, choose_split, summary, write_files

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
    assert data.without_positives == 0


def test_a_query_judged_only_0_is_kept_and_a_judged_query_must_exist(tmp_path: Path) -> None:
    """As BEIR's loader: a query whose judgements are all 0 is evaluated (it scores 0); a
    judged query that queries.jsonl lacks, or a line that is not a query, is an error."""
    write_beir(tmp_path, "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td1\t0\n")
    data = load_dataset(tmp_path, "test")
    assert (set(data.queries), data.without_positives) == ({"q1", "q2"}, 1)
    assert score_query("q2", ["d1"], data.qrels["q2"]) == dict.fromkeys(MEASURES, 0.0)
    (tmp_path / "qrels" / "test.tsv").write_text("q1\td1\t1\nq9\td1\t1\n")
    with pytest.raises(DatasetError, match=r"1 query judged in test\.tsv not in queries\.jsonl"):
        load_dataset(tmp_path, "test")
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "dough"}\n["q9"]\n')
    with pytest.raises(DatasetError, match=r"queries\.jsonl:2: expected a JSON object"):
        load_dataset(tmp_path, "test")


def test_a_query_s_own_id_and_repeats_are_dropped_before_the_cut_offs() -> None:
    judged = {"a": 1, "q": 2}
    assert score_query("q", ["q", "a"], judged)["mrr@10"] == 1.0
    assert score_query("q", ["x", "x", "a"], judged)["mrr@10"] == 0.5
    assert score_query("q", ["q"] + ["x"] * 9 + ["a"], judged)["mrr@10"] == pytest.approx(0.5)
    assert ranking({"b": 1.0, "a": 1.0, "c": 2.0}) == ["c", "b", "a"]


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


DATA = Path(__file__).parent / "data" / "eval"


def read_run(path: Path) -> dict[str, dict[str, float]]:
    """A TREC run file (query Q0 document rank score tag), by query."""
    run: dict[str, dict[str, float]] = {}
    for line in path.read_text().splitlines():
        query, _, document, _, score, _ = line.split()
        run.setdefault(query, {})[document] = float(score)
    return run


def test_measures_match_ir_measures_on_a_fixed_run() -> None:
    """NDCG@10, Recall@100 and MRR@10 of every query of tests/data/eval (graded 0/1/2
    judgements, tied scores, a query judged only 0, a query not judged, queries whose
    own id is retrieved) equal trec_eval's (pytrec_eval through ir-measures) to 1e-6,
    BEIR's identical-id rule applied to the run before trec_eval sees it, as BEIR does."""
    import ir_measures
    from ir_measures import RR, R, nDCG

    data = load_dataset(DATA, "test")
    run = read_run(DATA / "run.trec")
    ours = {q: score_query(q, ranking(run[q]), data.qrels[q]) for q in run if q in data.qrels}
    rows = (DATA / "qrels" / "test.tsv").read_text().splitlines()[1:]
    qrels: dict[str, dict[str, int]] = {}
    for row in rows:
        query, document, grade = row.split("\t")
        qrels.setdefault(query, {})[document] = int(grade)
    beir_run = {q: {d: s for d, s in docs.items() if d != q} for q, docs in run.items()}
    # The run without ties, scored by its trec_eval order; and cut at 10 (trec_eval -M 10).
    ordered = {q: ranking(docs) for q, docs in beir_run.items()}
    untied = {q: {d: float(len(r) - i) for i, d in enumerate(r)} for q, r in ordered.items()}
    top10 = {q: {d: untied[q][d] for d in r[:10]} for q, r in ordered.items()}
    names = {nDCG @ 10: "ndcg@10", R @ 100: "recall@100", RR @ 10: "mrr@10", RR: "mrr@10"}
    checks: list[tuple[Any, list[Any], dict[str, dict[str, float]]]] = [
        # trec_eval (pytrec_eval) on the run as it is, ties included: its recip_rank has no
        # cut-off, so RR@10 is its RR of the run cut at 10.
        (ir_measures.pytrec_eval, [nDCG @ 10, R @ 100], beir_run),
        (ir_measures.pytrec_eval, [RR], top10),
        # ir-measures' own choice (RR@10 from its MS MARCO provider, which breaks ties by
        # id ascending, not as trec_eval does: so the run without ties).
        (ir_measures, [nDCG @ 10, R @ 100, RR @ 10], untied),
    ]
    for provider, measures, checked in checks:
        theirs: dict[str, dict[str, float]] = {}
        for metric in provider.iter_calc(measures, qrels, checked):
            theirs.setdefault(metric.query_id, {})[names[metric.measure]] = metric.value
        assert theirs.keys() == ours.keys() == set(data.queries) - {"7"}
        for query, scores in ours.items():
            assert {n: scores[n] for n in theirs[query]} == pytest.approx(theirs[query], abs=1e-6)
        means = provider.calc_aggregate(measures, qrels, checked)
        for measure in measures:
            assert summary(ours)[names[measure]] == pytest.approx(means[measure], abs=5e-5)
    assert data.without_positives == 1 and ours["2"] == dict.fromkeys(MEASURES, 0.0)
    assert ours["3"]["mrr@10"] == 0.5  # "32" is second once "3" is dropped
    assert ours["4"]["recall@100"] == 0.5  # ranks 5 and 100 of 4004, 4099, 4100, 4119
    assert ranking(run["8"]) == ["9", "81", "100", "10", "8"]  # ties: id descending


def test_a_corpus_as_files_is_one_markdown_file_a_document(tmp_path: Path) -> None:
    data = write_beir(tmp_path / "tiny", "q1\td1\t1\n")
    with (data / "corpus.jsonl").open("a") as corpus:
        corpus.write("\n" + json.dumps({"_id": "../d2", "title": "", "text": "No title."}) + "\n")
    dataset = load_dataset(data, "test")
    out = tmp_path / "out"
    (out / "tiny").mkdir(parents=True)
    (out / "tiny" / "0000009.md").write_text("a stale corpus line")
    (out / "tiny" / "notes.md").write_text("not one of ours")

    files = write_files(dataset, out)

    assert files.ids == {"0000000.md": "d1", "0000002.md": "../d2"}  # ids need not be names
    assert (files.directory / "0000000.md").read_text() == "# Bread\n\nKnead the dough.\n"
    assert (files.directory / "0000002.md").read_text() == "No title.\n"
    assert sorted(p.name for p in files.directory.iterdir()) == [
        "0000000.md", "0000002.md", "notes.md"]  # fmt: skip
    kept = (files.directory / "0000000.md").stat().st_mtime_ns
    assert write_files(dataset, out) == files
    assert (files.directory / "0000000.md").stat().st_mtime_ns == kept  # unchanged: not rewritten

    (data / "corpus.jsonl").write_text('{"title": "no id"}\n')
    with pytest.raises(DatasetError, match=r"corpus.jsonl:1: expected a JSON object with an _id"):
        write_files(dataset, out)
