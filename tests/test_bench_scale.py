"""``semantik bench scale`` (issue 25) run as a user runs it, at tiny sizes: every figure
present, one per size, and sane; and its size lists and targets."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from semantik.bench_scale import count, sizes, targets

SEMANTIK = Path(sys.executable).parent / "semantik"


@pytest.mark.unit
def test_sizes_are_a_comma_separated_list_of_positive_numbers() -> None:
    assert sizes("10000,100_000") == [10_000, 100_000]
    assert sizes("none") == []  # that part of the bench skipped
    for wrong in ("", "0", "10,-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            sizes(wrong)


@pytest.mark.unit
def test_a_document_count_is_zero_or_more() -> None:
    assert count("0") == 0 and count("1_000") == 1000
    for wrong in ("", "-1", "many"):
        with pytest.raises(argparse.ArgumentTypeError):
            count(wrong)


@pytest.mark.unit
def test_targets_compare_the_largest_size_with_the_smallest() -> None:
    report = {
        "collections_start_s": [1.0, 2.5],
        "collections_rss_mb": [80.0, 150.0],
        "search_p95_ms": [60.0, 40.0],
    }
    assert targets(report) == {
        "start_within_2x": False,
        "rss_flat_100mb": True,
        "search_p95_50ms": True,
    }
    one = {"collections_start_s": [1.0], "collections_rss_mb": [80.0], "search_p95_ms": [51.0]}
    assert targets(one) == {
        "start_within_2x": None,
        "rss_flat_100mb": None,
        "search_p95_50ms": False,
    }
    assert set(targets({}).values()) == {None}  # both parts skipped


@pytest.mark.e2e
@pytest.mark.slow
def test_bench_scale_reports_each_figure_per_log_size() -> None:
    """The log part, as a user runs it: the collections service started on logs of two
    sizes. The search and ingest part (``--search-chunks``) starts the whole system twice
    more, minutes on 2 shared cores: it is run by hand (its search goes through
    ``bench search``'s client, which tests/e2e/test_search_commands.py runs)."""
    args = ["bench", "scale", "--json", "--log-events", "500,1000", "--search-chunks",
            "none", "--starts", "1"]  # fmt: skip
    done = subprocess.run([str(SEMANTIK), *args], capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["log_events"][0] >= 500 and report["log_events"][1] >= 1000
    per_log = ("collections_first_start_s", "collections_start_s", "collections_rss_mb")
    for key in (*per_log, "bytes_per_event", "log_store_bytes"):
        assert len(report[key]) == 2 and min(report[key]) > 0, key
    assert report["log_store_bytes"][0] < report["log_store_bytes"][1]
    assert "search_p95_ms" not in report  # that part skipped
    assert report["targets"]["search_p95_50ms"] is None
    assert report["targets"]["start_within_2x"] is not None
    assert len(report["load_average_before"]) == 3
    assert "first start" in done.stderr  # its progress goes to stderr, the JSON alone to stdout
