"""Highlights and snippets (search_service.highlight): BM25's analyzer decides what is a
match, offsets index the text as it is, and the snippet is the densest short window; and the
one order of equal scores that pages are cut from."""

from __future__ import annotations

from search_service.fusion import break_ties
from search_service.highlight import matches, query_terms, snippet
from semantik_contracts.search import SNIPPET_CHARS
from semantik_runtime.vectors import Hit

FILLER = " ".join(f"filler{n} words here" for n in range(60))  # no term of the queries


def marked(text: str, query: str) -> list[str]:
    return [text[start:end] for start, end, _ in matches(text, query_terms(query))]


def test_a_term_matches_every_form_with_its_stem() -> None:
    text = "Running shoes: she runs daily, a RUN a day; the runner rested."
    # "runner" stems to "runner", not "run": BM25 would not match it either.
    assert marked(text, "run") == ["Running", "runs", "RUN"]
    assert marked(text, "runs") == ["Running", "runs", "RUN"]


def test_stop_words_and_single_letters_are_never_marked() -> None:
    text = "The telescope and the dome: a view of the sky."
    assert marked(text, "the telescope of a sky") == ["telescope", "sky"]
    assert matches(text, query_terms("the of and")) == []


def test_offsets_index_the_text_as_it_is_unicode_included() -> None:
    text = "😀 Über-große Teleskope 🚀 İstanbul telescope naïve café"
    found = matches(text, query_terms("teleskope telescope café naïve über"))
    assert [text[s:e] for s, e, _ in found] == ["Über", "Teleskope", "telescope", "naïve", "café"]
    for start, end, _ in found:
        assert 0 <= start < end <= len(text)


def test_a_short_text_is_its_own_snippet() -> None:
    text = "A telescope on the hill."
    found = matches(text, query_terms("telescope"))
    cut = snippet(text, found)
    assert (cut.text, cut.start, cut.highlights) == (text, 0, [(2, 11)])


def test_the_snippet_is_the_densest_window_on_word_boundaries() -> None:
    dense = "the telescope mount wobbles at night, the telescope dome drifts"
    text = f"telescope {FILLER} {dense} {FILLER} night"
    found = matches(text, query_terms("telescope mount wobbles night"))
    cut = snippet(text, found)

    assert len(cut.text) <= SNIPPET_CHARS
    assert cut.text == text[cut.start : cut.start + len(cut.text)]
    assert dense in cut.text
    # Whole words only, and no space at either end.
    assert text[cut.start - 1] == " " and cut.text[0] != " "
    after = cut.start + len(cut.text)
    assert text[after] == " " and cut.text[-1] != " "
    # Its highlights are the text's, shifted to the snippet's start.
    inside = [(s - cut.start, e - cut.start) for s, e, _ in found if cut.start <= s < after]
    assert cut.highlights == inside
    assert [cut.text[s:e] for s, e in cut.highlights] == [
        "telescope",
        "mount",
        "wobbles",
        "night",
        "telescope",
    ]


def test_more_distinct_terms_beat_more_repeats_of_one() -> None:
    text = f"run run run run {FILLER} run telescope {FILLER}"
    found = matches(text, query_terms("run telescope"))
    cut = snippet(text, found)
    assert "run telescope" in cut.text
    assert "run run run run" not in cut.text


def test_without_a_match_the_snippet_is_the_texts_start_cut_at_a_word() -> None:
    cut = snippet(FILLER, [])
    assert cut.start == 0 and cut.highlights == []
    assert len(cut.text) <= SNIPPET_CHARS and FILLER.startswith(cut.text)
    assert FILLER[len(cut.text)] == " "
    # One word longer than a snippet is cut, rather than left out.
    word = "x" * 400
    assert snippet(word, []).text == word[:SNIPPET_CHARS]


def test_equal_scores_are_ordered_by_document_the_rest_kept() -> None:
    def hit(document: str, score: float) -> Hit:
        return Hit(id=document, score=score, payload={"document_id": document})

    hits = [hit("d", 0.9), hit("c", 0.5), hit("a", 0.5), hit("b", 0.5), hit("e", 0.7)]
    assert [h.id for h in break_ties(hits)] == ["d", "a", "b", "c", "e"]
