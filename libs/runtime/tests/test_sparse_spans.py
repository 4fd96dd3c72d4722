"""``term_spans``: the offsets of the very tokens BM25 indexes (search's highlights)."""

from __future__ import annotations

import pytest
from semantik_runtime.sparse import term_spans, tokenize

TEXTS = [
    "The runner was running quickly; she runs daily.",
    "İstanbul's İİ bridges, ΟΔΟΣ and straße: unicode lowercasing changes lengths.",
    "emoji 😀 precede running_total and x 42 single letters",
    "",
    "the of and",
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
