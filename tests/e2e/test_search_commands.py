"""``semantik eval`` and ``semantik bench search`` run as a user runs them: each starts
a private embedded Semantik of its own, ingests through the real pipeline and searches
over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DOCUMENTS = {
    "d1": ("Telescopes", "The telescope observed a distant spiral galaxy through the night."),
    "d2": ("Bread", "Knead the bread dough until smooth, then let the yeast rise."),
    "d3": ("Compilers", "A compiler translates source code into machine instructions."),
    "d4": ("Gardens", "Tomatoes need full sun, rich soil and regular watering."),
    "d5": ("Banks", "Central banks raise interest rates to slow inflation."),
    "d6": ("Planets", "Jupiter and Saturn show their moons through a backyard telescope."),
}
QUERIES = {
    "q1": ("which galaxy did the telescope observe", {"d1": 1, "d6": 1}),
    "q2": ("how to make bread rise with yeast", {"d2": 1}),
    "q3": ("compiler machine code", {"d3": 1}),
    "q4": ("interest rates and inflation", {"d5": 1}),
    # Its own id is a document's, which BEIR's rule drops; its only judgement is 0.
    "d4": ("tomatoes in full sun", {"d1": 0}),
}


def semantik(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "SEMANTIK_URL")}
    command = [str(Path(sys.executable).parent / "semantik"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def write_beir(directory: Path) -> Path:
    (directory / "qrels").mkdir(parents=True)
    with (directory / "corpus.jsonl").open("w") as corpus:
        for key, (title, text) in DOCUMENTS.items():
            corpus.write(json.dumps({"_id": key, "title": title, "text": text}) + "\n")
    with (directory / "queries.jsonl").open("w") as queries:
        for key, (text, _) in QUERIES.items():
            queries.write(json.dumps({"_id": key, "text": text}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"]
    lines += [f"{q}\t{d}\t{s}" for q, (_, judged) in QUERIES.items() for d, s in judged.items()]
    (directory / "qrels" / "dev.tsv").write_text("\n".join(lines) + "\n")
    return directory


def test_eval_ingests_a_beir_directory_and_scores_every_mode(tmp_path: Path) -> None:
    data = write_beir(tmp_path / "tiny-beir")
    done = semantik("eval", str(data), "--json", "--data-dir", str(tmp_path / "state"))

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert (report["dataset"], report["split"], report["queries"]) == ("tiny-beir", "dev", 5)
    assert (report["queries_evaluated"], report["queries_without_positives"]) == (5, 1)
    assert "equals the query id is ignored" in report["rule"]
    assert set(report["modes"]) == {"dense", "sparse", "hybrid"}
    for mode, measured in report["modes"].items():
        # Six documents, each query with an obvious answer: every mode finds them; d4 finds
        # itself, which is dropped, and scores 0 (mean recall 4 / 5).
        per_query = measured["per_query"]
        assert measured["recall@100"] == 0.8 and measured["identical_ids_ignored"] == 1, mode
        assert per_query["d4"] == {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
        assert all(per_query[q]["recall@100"] == 1.0 for q in ("q1", "q2", "q3", "q4")), mode
        assert measured["ndcg@10"] > 0.64 and measured["mrr@10"] > 0.64, mode
        assert 0 < measured["p50_ms"] <= measured["p95_ms"]
    assert "ingesting tiny-beir" in done.stderr  # the progress bar

    output = tmp_path / "sparse.json"
    table = semantik("eval", str(data), "--modes", "sparse", "--data-dir", str(tmp_path / "state"),
                     "--output", str(output))  # fmt: skip
    assert table.returncode == 0, table.stderr[-3000:]
    assert "NDCG@10" in table.stdout and "sparse" in table.stdout and "hybrid" not in table.stdout
    assert "1 of the queries have no positive judgement" in table.stdout
    written = json.loads(output.read_text())["modes"]["sparse"]
    assert written["per_query"] == report["modes"]["sparse"]["per_query"]
    compared = semantik("eval", "--compare", str(output), str(output), "--json")
    assert compared.returncode == 0, compared.stderr
    assert json.loads(compared.stdout)["modes"]["sparse"] | {"a": 0} == {
        "queries": 5, "a": 0, "b": written["ndcg@10"], "mean_difference": 0.0,
        "wins": 0, "losses": 0, "ties": 5, "p": 1.0}  # fmt: skip

    wrong = semantik("eval", str(tmp_path / "nowhere"))
    assert wrong.returncode == 2 and "corpus.jsonl is missing" in wrong.stderr


def test_eval_as_files_indexes_each_document_as_a_markdown_file(tmp_path: Path) -> None:
    data = write_beir(tmp_path / "tiny-beir")
    state = tmp_path / "state"
    done = semantik("eval", str(data), "--as-files", str(tmp_path / "files"), "--modes",
                    "sparse,hybrid", "--json", "--data-dir", str(state))  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert (report["indexed_as"], report["queries_evaluated"]) == ("files", 5)
    files = sorted((tmp_path / "files" / "tiny-beir").iterdir())
    assert [f.name for f in files] == [f"{n:07d}.md" for n in range(len(DOCUMENTS))]
    assert files[0].read_text() == f"# Telescopes\n\n{DOCUMENTS['d1'][1]}\n"
    for mode, measured in report["modes"].items():  # the files' hits map back to their ids
        assert measured["recall@100"] == 0.8 and measured["identical_ids_ignored"] == 1, mode
        assert measured["ndcg@10"] > 0.64, mode


def test_bench_search_reports_latency_through_the_services_and_in_process(
    tmp_path: Path,
) -> None:
    data = write_beir(tmp_path / "tiny-beir")
    args = ["bench", "search", "--json", "--beir", str(data), "--collections", "2",
            "--queries", "3", "--data-dir", str(tmp_path / "bench")]  # fmt: skip
    done = semantik(*args)

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert (report["collections"], report["corpus"], report["queries"]) == (2, "tiny-beir", 3)
    assert report["documents_per_collection"] == [len(DOCUMENTS)] * 2
    assert report["chunks_per_collection"] == [len(DOCUMENTS)] * 2  # one chunk each
    assert "ingesting bench-search-tiny-beir-2" in done.stderr
    # Ingested now: measured after a second start, on a copy of the shards at rest.
    assert done.stderr.count("starting Semantik") == 2
    assert 0 < report["p50_ms"] <= report["p95_ms"]
    assert report["direct_p50_ms"] > 0
    # Queries in the embedder's default pass (SEMANTIK_QUERY_PRECISION unset): a trace,
    # or the documents' int8 model where auto took int8 for them (a CPU without
    # bfloat16 units).
    assert report["query_dtype"] in ("float32", "bfloat16", "int8")
    assert report["overhead_p50_ms"] == pytest.approx(
        report["p50_ms"] - report["direct_p50_ms"], abs=0.02
    )

    assert report["facets"] == [] and report["facets_pools_read_again"] is None
    assert "facets_cost_p95_ms" not in report

    # The kept data dir is measured again as it is, without ingesting anything (another
    # corpus gets collections of its own: tests/test_bench.py, without a system); with
    # facets, each query is sent without them too, and their cost is reported.
    again = semantik(*args, "--facets", "file_type,source_id")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "ingesting" not in again.stderr
    assert again.stderr.count("starting Semantik") == 1  # its shards were at rest already
    faceted = json.loads(again.stdout)
    assert faceted["documents_per_collection"] == [len(DOCUMENTS)] * 2
    assert faceted["facets"] == ["file_type", "source_id"] and faceted["facet_depth"] == 200
    assert 0 < faceted["without_facets_p50_ms"] <= faceted["without_facets_p95_ms"]
    assert faceted["facets_cost_p95_ms"] == pytest.approx(
        faceted["p95_ms"] - faceted["without_facets_p95_ms"], abs=0.02
    )
    # Two collections: each one's share (200 chunks) holds its whole pool.
    assert faceted["facets_pools_read_again"] == 0.0
