"""``semantik eval --compare A.json B.json``: two eval reports, query by query.

Each report is what ``semantik eval --output FILE`` (or ``--json``) wrote. For every mode
both reports hold, the queries' scores on one measure (NDCG@10 by default) are paired:
B wins a query when its score is higher, loses it when lower, ties it when equal. The
difference of the means is tested with a two-sided paired randomization test: each of
``PERMUTATIONS`` relabellings flips the sign of every query's difference at random (a
fixed seed, so a comparison prints the same p every time), and p is the share of them
whose mean difference is at least as far from 0 as the observed one, counting the
observed labelling itself ((hits + 1) / (permutations + 1)).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

PERMUTATIONS = 10_000
SEED = 26
#: Two scores closer than this are a tie (reports keep six decimal places).
TIE = 1e-9
_BATCH = 1_000


class CompareError(Exception):
    """Two reports that cannot be paired, said to the user as it is."""


def permutation_test(
    differences: npt.ArrayLike, permutations: int = PERMUTATIONS, seed: int = SEED
) -> float:
    """The two-sided p of a paired randomization (sign-flip) test on the mean difference."""
    d = np.asarray(differences, dtype=np.float64)
    if d.size == 0:
        return 1.0
    observed = abs(d.mean())
    rng = np.random.default_rng(seed)
    hits, done = 0, 0
    while done < permutations:
        size = min(_BATCH, permutations - done)
        signs = rng.integers(0, 2, size=(size, d.size), dtype=np.int8) * 2 - 1
        means = np.abs(signs @ d) / d.size
        # A relative margin, so that float noise in the sums never turns a tie into a miss.
        hits += int(np.count_nonzero(means >= observed - 1e-12 * max(1.0, observed)))
        done += size
    return (hits + 1) / (permutations + 1)


def load_report(path: Path) -> dict[str, Any]:
    try:
        loaded: object = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CompareError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise CompareError(f"{path} is not JSON: {exc}") from exc
    report: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    modes = report.get("modes")
    if not isinstance(modes, dict) or not modes:
        raise CompareError(f"{path} is not a `semantik eval` report (it has no modes)")
    for mode, figures in modes.items():
        if not isinstance(figures, dict) or not isinstance(figures.get("per_query"), dict):
            raise CompareError(
                f"{path}: mode {mode!r} has no per-query scores (write the report with "
                "`semantik eval --output FILE` or `--json`)"
            )
    return report


def compare(a: dict[str, Any], b: dict[str, Any], measure: str) -> dict[str, Any]:
    """Per mode both reports hold: the means, wins, losses and ties of B against A, the
    mean difference and the permutation test's p."""
    for key in ("dataset", "split"):
        if a.get(key) != b.get(key):
            raise CompareError(f"the reports differ in {key}: {a.get(key)!r} and {b.get(key)!r}")
    modes = [m for m in a["modes"] if m in b["modes"]]
    if not modes:
        raise CompareError(
            f"the reports share no mode ({', '.join(a['modes'])} and {', '.join(b['modes'])})"
        )
    result: dict[str, Any] = {}
    for mode in modes:
        left, right = a["modes"][mode]["per_query"], b["modes"][mode]["per_query"]
        if left.keys() != right.keys():
            only = sorted(left.keys() ^ right.keys())
            raise CompareError(
                f"mode {mode}: the reports scored different queries ({len(only)} in one only, "
                f"the first: {only[0]!r})"
            )
        queries = sorted(left)
        x, y = (np.array([_score(s[q], measure, mode) for q in queries]) for s in (left, right))
        d = y - x
        result[mode] = {
            "queries": len(queries),
            "a": round(float(x.mean()), 4),
            "b": round(float(y.mean()), 4),
            "mean_difference": round(float(d.mean()), 4),
            "wins": int(np.count_nonzero(d > TIE)),
            "losses": int(np.count_nonzero(d < -TIE)),
            "ties": int(np.count_nonzero(np.abs(d) <= TIE)),
            "p": round(permutation_test(d), 4),
        }
    return {
        "dataset": a.get("dataset"),
        "split": a.get("split"),
        "measure": measure,
        "test": f"two-sided paired randomization, {PERMUTATIONS} sign flips, seed {SEED}",
        "modes": result,
    }


def _score(scores: Any, measure: str, mode: str) -> float:
    value = scores.get(measure) if isinstance(scores, dict) else None
    if not isinstance(value, int | float):
        raise CompareError(f"mode {mode}: a query has no {measure} score")
    return float(value)


def compare_command(args: argparse.Namespace) -> int:
    first, second = args.compare
    try:
        figures = compare(load_report(first), load_report(second), args.measure)
    except CompareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(figures) if args.json else table(figures, first, second))
    return 0


def table(figures: dict[str, Any], first: Path, second: Path) -> str:
    measure = figures["measure"]
    lines = [
        f"{figures['dataset']} ({figures['split']} split), {measure} per query, B against A",
        f"A: {first}",
        f"B: {second}",
        f"{'mode':<8}{'queries':>8}{'A':>8}{'B':>8}{'B - A':>9}{'wins':>7}{'losses':>8}"
        f"{'ties':>7}{'p':>8}",
    ]
    for mode, m in figures["modes"].items():
        lines.append(
            f"{mode:<8}{m['queries']:>8}{m['a']:>8.4f}{m['b']:>8.4f}{m['mean_difference']:>+9.4f}"
            f"{m['wins']:>7}{m['losses']:>8}{m['ties']:>7}{m['p']:>8.4f}"
        )
    lines.append(f"p: {figures['test']}.")
    return "\n".join(lines)
