"""``semantik eval --compare A.json B.json`` on two fixed reports (tests/data/eval), and its
paired randomization test (pure, no services)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from semantik.cli import main
from semantik.eval_compare import permutation_test

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data" / "eval"
A, B = str(DATA / "report_a.json"), str(DATA / "report_b.json")


def compare(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["eval", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_clearly_better_report_wins_with_p_under_0_05(capsys: pytest.CaptureFixture[str]) -> None:
    """report_b raises hybrid NDCG@10 on 24 of 30 queries, lowers it on 2, and leaves its
    sparse scores as report_a has them."""
    code, out, _ = compare(capsys, "--compare", A, B, "--json")
    assert code == 0
    figures = json.loads(out)
    assert [figures[key] for key in ("dataset", "split", "measure")] == ["fixed", "test", "ndcg@10"]
    hybrid, sparse = figures["modes"]["hybrid"], figures["modes"]["sparse"]
    assert (hybrid["wins"], hybrid["losses"], hybrid["ties"], hybrid["queries"]) == (24, 2, 4, 30)
    assert hybrid["mean_difference"] == pytest.approx(hybrid["b"] - hybrid["a"], abs=1e-4)
    assert hybrid["mean_difference"] > 0.05
    assert hybrid["p"] < 0.05
    assert (sparse["wins"], sparse["losses"], sparse["ties"], sparse["p"]) == (0, 0, 30, 1.0)
    assert "10000 sign flips" in figures["test"]

    code, table, _ = compare(capsys, "--compare", A, B)
    assert code == 0
    row = next(line.split() for line in table.splitlines() if line.startswith("hybrid"))
    assert row[4:8] == ["+0.1061", "24", "2", "4"] and float(row[8]) < 0.05


def test_identical_reports_tie_every_query_with_p_1(capsys: pytest.CaptureFixture[str]) -> None:
    for measure in ("ndcg@10", "recall@100", "mrr@10"):
        code, out, _ = compare(capsys, "--compare", A, A, "--json", "--measure", measure)
        assert code == 0
        for figures in json.loads(out)["modes"].values():
            assert (figures["wins"], figures["losses"], figures["ties"]) == (0, 0, 30)
            assert (figures["mean_difference"], figures["p"]) == (0.0, 1.0)


def test_the_permutation_test_matches_the_exact_one() -> None:
    """Five equal gains: of the 32 sign patterns, 2 are as extreme, so the exact two-sided p
    is 1/16; a fixed seed gives the same p every run."""
    p = permutation_test([0.1] * 5)
    assert p == pytest.approx(2 / 32, abs=0.01)
    assert permutation_test([0.1] * 5) == p
    assert permutation_test([0.3, -0.1, 0.2, 0.0, 0.25, 0.15, 0.4, 0.1] * 4) < 0.001
    assert permutation_test([]) == permutation_test([0.0, 0.0]) == 1.0


def test_reports_that_cannot_be_paired_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = json.loads(Path(A).read_text())

    def written(name: str, content: object) -> str:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)

    other_split = written("split.json", report | {"split": "dev"})
    fewer = json.loads(Path(A).read_text())
    del fewer["modes"]["hybrid"]["per_query"]["q3"]
    no_scores = json.loads(Path(A).read_text())
    del no_scores["modes"]["sparse"]["per_query"]
    dense = report | {"modes": {"dense": report["modes"]["sparse"]}}
    bad = {f"q{i}": {"ndcg@10": "high"} for i in range(30)}
    cases = {
        str(tmp_path / "missing.json"): "cannot read",
        written("text.json", "NDCG 0.7"): "is not JSON",
        written("list.json", [1, 2]): "is not a `semantik eval` report",
        written("old.json", no_scores): "mode 'sparse' has no per-query scores",
        other_split: "the reports differ in split: 'test' and 'dev'",
        written("fewer.json", fewer): "mode hybrid: the reports scored different queries (1 in",
        written("dense.json", dense): "the reports share no mode",
        written("bad.json", report | {"modes": {"sparse": {"per_query": bad}}}): (
            "mode sparse: a query has no ndcg@10 score"
        ),
    }
    for path, message in cases.items():
        code, out, err = compare(capsys, "--compare", A, path)
        assert (code, out) == (2, ""), path
        assert message in err, (path, err)
    code, _, err = compare(capsys)
    assert code == 2 and "give a data set directory, or --compare" in err
    code, _, err = compare(capsys, str(DATA), "--compare", A, B)
    assert code == 2 and "give a data set directory, or --compare" in err


def test_a_report_file_that_cannot_be_written_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for output in (tmp_path / "nowhere" / "report.json", tmp_path):
        code, _, err = compare(capsys, str(DATA), "--output", str(output))
        assert code == 2 and f"cannot write the report to {output}" in err
