"""Where a result's text matches the query, as BM25 matched it, and its best snippet.

A text's tokens come from the analyzer of the sparse vectors (``sparse.term_matches``:
the same words, stop words and stems), so a highlighted word is one that BM25 counted:
"running" is marked for the query "run", "the" never is. Only the results returned are
read, in the search service.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import NamedTuple

from semantik_contracts.search import SNIPPET_CHARS, Span
from semantik_runtime.sparse import term_matches, tokenize

__all__ = ["Snippet", "matches", "query_terms", "snippet"]

#: A matched term in a text: its character offsets and its stemmed term.
Match = tuple[int, int, str]


class Snippet(NamedTuple):
    """A result's ``snippet``, ``snippet_start`` and ``snippet_highlights``."""

    text: str
    start: int
    highlights: list[Span]


def query_terms(query: str) -> frozenset[str]:
    """The terms BM25 looks for: the query's stems, stop words left out."""
    return frozenset(tokenize(query))


def matches(text: str, terms: Collection[str]) -> list[Match]:
    """Every token of ``text`` whose term is one of ``terms``, in text order."""
    return term_matches(text, terms)


def snippet(text: str, found: list[Match], size: int = SNIPPET_CHARS) -> Snippet:
    """The window of at most ``size`` characters of ``text`` holding the most distinct
    matched terms (then the most matches; the earliest on a tie), widened around them
    to whole words; the start of ``text`` when nothing matched."""
    if len(text) <= size:
        start, end = 0, len(text)
    elif not found:
        start, end = 0, _word_end(text, size, 0) or size  # or one word longer than that
    else:
        first, last = _densest(found, size)
        start, end = _around(text, found[first][0], found[last][1], size)
    inside: list[Span] = [(s - start, e - start) for s, e, _ in found if s >= start and e <= end]
    return Snippet(text=text[start:end], start=start, highlights=inside)


def _densest(found: list[Match], size: int) -> tuple[int, int]:
    """Indices of the first and last match of the best window no wider than ``size``."""
    best = (0, 0)
    best_key = (0, 0)
    counts: Counter[str] = Counter()
    last = 0  # matches [first, last) are in the window
    for first in range(len(found)):
        if last <= first:  # the previous window was empty: start afresh here
            last, counts = first, Counter()
        while last < len(found) and found[last][1] - found[first][0] <= size:
            counts[found[last][2]] += 1
            last += 1
        key = (len(counts), last - first)
        if key > best_key:
            best, best_key = (first, last - 1), key
        if last > first:
            term = found[first][2]
            counts[term] -= 1
            if not counts[term]:
                del counts[term]
    return best


def _around(text: str, start: int, end: int, size: int) -> tuple[int, int]:
    """A window of at most ``size`` characters holding ``[start, end)``, the room left
    shared before and after it, its edges moved inward off cut words and spaces."""
    if end - start > size:  # one token longer than a snippet: its beginning
        return start, start + size
    room = size - (end - start)
    begin = max(0, start - room // 2)
    finish = min(len(text), begin + size)
    begin = max(0, finish - size)
    return _word_start(text, begin, start), _word_end(text, finish, end)


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _word_start(text: str, begin: int, limit: int) -> int:
    """``begin`` moved forward past a cut word and spaces, never beyond ``limit``."""
    if begin > 0 and _is_word(text[begin - 1]):
        while begin < limit and _is_word(text[begin]):
            begin += 1
    while begin < limit and text[begin].isspace():
        begin += 1
    return begin


def _word_end(text: str, finish: int, limit: int) -> int:
    """``finish`` moved back before a cut word and spaces, never below ``limit``."""
    if finish < len(text) and _is_word(text[finish]):
        while finish > limit and _is_word(text[finish - 1]):
            finish -= 1
    while finish > limit and text[finish - 1].isspace():
        finish -= 1
    return finish
