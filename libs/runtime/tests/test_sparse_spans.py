"""``term_spans``: the offsets of the very tokens BM25 indexes (search's highlights); and
``term_matches``, the same spans of the terms a query asks for."""

from __future__ import annotations

import pytest
from semantik_runtime.sparse import term_matches, term_spans, tokenize

TEXTS = [
    "The runner was running quickly; she runs daily.",
    "İstanbul's İİ bridges, ΟΔΟΣ and straße: unicode lowercasing changes lengths.",
    "emoji 😀 precede running_total and x 42 single letters",
    "",
    "the of and",
    "running_total runs; RUNNING run-run runrun xrun run_ _run 2run run2 run",
    "aab ab abab ab_ab ab. (ab) ab",
    "naïve café résumé Ωmega ωmega crème brûlée: cafe naive",
    "١٢٣ digits and ²² superscripts run² ½run",
    "tab\trun\nrun\u00a0run\u2003run",
]


@pytest.mark.parametrize("text", TEXTS)
def test_the_spans_terms_are_the_tokens_bm25_indexes(text: str) -> None:
    spans = term_spans(text)
    assert [term for _, _, term in spans] == tokenize(text)
    for start, end, _ in spans:
        assert 0 <= start < end <= len(text)
    assert [s for s, _, _ in spans] == sorted(s for s, _, _ in spans)


def test_each_span_covers_the_word_it_came_from() -> None:
    text = "Runners RUNNING past İstanbul"
    assert [(text[s:e], term) for s, e, term in term_spans(text)] == [
        ("Runners", "runner"),
        ("RUNNING", "run"),
        ("past", "past"),
        # "İ" lowercases to two characters, the second not a word character: BM25's
        # token is "stanbul", and its offsets are those of the original characters.
        ("stanbul", "stanbul"),
    ]


@pytest.mark.parametrize("text", TEXTS)
def test_matches_are_the_spans_of_the_terms_asked_for(text: str) -> None:
    spans = term_spans(text)
    terms = {term for _, _, term in spans}
    # Every subset a query could ask for: each term alone, all of them, none, a stranger.
    for asked in [*({t} for t in terms), terms, set(), {"absent"}, {"run", "ab"}]:
        assert term_matches(text, asked) == [s for s in spans if s[2] in asked], asked


def test_a_token_inside_a_longer_word_is_not_a_match() -> None:
    text = "rerun run runs xrun_run"
    assert [(text[s:e], term) for s, e, term in term_matches(text, {"run"})] == [
        ("run", "run"),
        ("runs", "run"),
    ]
