"""The benchmarks' corpora: generated, deterministic, real words (SPEC §9); what bench
search's collections hold, and are named after."""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import pytest

from semantik.bench_ingest import write_corpus
from semantik.bench_search import Latencies, _corpus, _records, summary, turns

pytestmark = pytest.mark.unit


def test_the_corpus_is_the_same_every_run(tmp_path: Path) -> None:
    write_corpus(tmp_path / "a", documents=3, words=50)
    write_corpus(tmp_path / "b", documents=3, words=50)
    first = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert first == ["doc-00000.md", "doc-00001.md", "doc-00002.md"]
    for name in first:
        text = (tmp_path / "a" / name).read_text()
        assert text == (tmp_path / "b" / name).read_text()
        body = text.split("\n\n", 1)[1]
        assert 50 <= len(body.split()) < 50 + 18
        assert all(word.strip(".").isalpha() for word in body.split())
    assert (tmp_path / "a" / first[0]).read_text() != (tmp_path / "a" / first[1]).read_text()


def test_bench_search_names_its_collections_after_what_they_hold(tmp_path: Path) -> None:
    """A kept data dir holds each corpus apart: a BEIR directory whole, its first N
    records, or N made-up records, each its own collections and record file."""
    beir = tmp_path / "tiny-beir"
    beir.mkdir()
    rows = [json.dumps({"_id": str(n), "title": "", "text": f"doc {n}"}) + "\n" for n in range(6)]
    (beir / "corpus.jsonl").write_text("".join(rows))
    sources = tmp_path / "sources"
    sources.mkdir()

    def args(beir_dir: Path | None, documents: int | None) -> argparse.Namespace:
        return argparse.Namespace(beir=beir_dir, documents=documents)

    assert _corpus(args(beir, None)) == "tiny-beir"
    assert _records(sources, 1, args(beir, None)) == (beir / "corpus.jsonl").resolve()
    part = _records(sources, 1, args(beir, 4))
    assert _corpus(args(beir, 4)) == "tiny-beir-4" and part == sources / "tiny-beir-4.jsonl"
    assert part.read_text() == "".join(rows[:4])  # the corpus's first four records
    assert _records(sources, 2, args(beir, 4)) == part  # shared by every collection
    made = _records(sources, 2, args(None, 3))
    assert _corpus(args(None, 3)) == "synthetic-3" and made == sources / "synthetic-3-2.jsonl"
    assert len(made.read_text().splitlines()) == 3
    assert made.read_text() != _records(sources, 1, args(None, 3)).read_text()  # seeded apart


def test_bench_search_puts_each_side_before_each_other_equally_often() -> None:
    """Two sides alternate; with three (facets on, off, and in one process) six queries
    in a row take every order once, so no side is always measured first."""
    assert [turns(["a", "b"], n) for n in range(4)] == [["a", "b"], ["b", "a"]] * 2
    orders = [tuple(turns(["a", "b", "c"], n)) for n in range(6)]
    assert sorted(orders) == sorted(itertools.permutations("abc"))
    assert [tuple(turns(["a", "b", "c"], n)) for n in range(6, 12)] == orders


def test_bench_search_reports_the_facets_cost_against_the_same_searches_without() -> None:
    measured = Latencies()
    measured.through = [float(n) for n in range(10, 30)]  # p50 19.5, p95 28.05
    measured.inside = [float(n) for n in range(5, 25)]
    assert summary(measured) == {
        "p50_ms": 19.5,
        "p95_ms": 28.05,
        "direct_p50_ms": 14.5,
        "direct_p95_ms": 23.05,
        "overhead_p50_ms": 5.0,
    }
    measured.without_facets = [float(n) for n in range(8, 28)]
    figures = summary(measured)
    assert figures["without_facets_p50_ms"] == 17.5 and figures["without_facets_p95_ms"] == 26.05
    assert figures["facets_cost_p50_ms"] == 2.0 and figures["facets_cost_p95_ms"] == 2.0
