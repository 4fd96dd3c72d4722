"""BM25 sparse vectors, computed here so every Qdrant backend stores the same vectors.

Stored document values are BM25's term-frequency saturation only; the collection's
IDF modifier (``Modifier.IDF``) multiplies in the inverse document frequency at query
time, and query values are term counts divided by the query's length. With stemmed,
stop-worded tokens this reproduced the NDCG@10 of the ``bm25s`` library on SciFact and NFCorpus.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Collection
from hashlib import blake2b

import snowballstemmer

from .vectors.port import SparseVector

__all__ = [
    "ANALYZERS",
    "STOP_WORDS",
    "Analyzer",
    "analyzer",
    "document_vector",
    "query_vector",
    "term_index",
    "term_matches",
    "term_spans",
    "tokenize",
]

# Lucene's English stop set, the one bm25s uses: small on purpose, because a longer
# list removes words ("not", "between") that still discriminate between passages.
_STOP_WORDS_TEXT = """
    a an and are as at be but by for if in into is it no not of on or such that the
    their then there these they this to was will with
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

# Runs of two or more word characters (any script), as bm25s tokenises (its
# ``\b\w\w+\b`` finds the same runs); single letters and digits carry almost no
# retrieval signal.
_WORD = re.compile(r"\w\w+")
# Elasticsearch's English analyzer, approximately: its standard tokenizer's words keep
# an inner apostrophe, single characters and digits; a possessive "'s" is dropped.
_ES_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")

# Stemming is the slow step: a corpus repeats a few thousand words endlessly, so each
# surface form is stemmed once and each stem hashed once. snowballstemmer hands out
# PyStemmer's stemmer when it is installed (a dependency): the C build of the same
# Snowball English algorithm, the same stems (every word of the default model's
# vocabulary and of SciFact checked) in about a twentieth of the time; its pure-Python
# one took half of ingest's CPU on a corpus of many distinct words.
# An analyzer's ``_stems`` maps a lowercase token to its stem ("" for a stop word),
# ``_indices`` a stem to its index. They are cleared, not evicted entry by entry, when
# they outgrow the bound, which a real vocabulary reaches only after millions of
# distinct tokens.
_CACHE_LIMIT = 500_000
_indices: dict[str, int] = {}

# snowballstemmer's stemmer objects keep state between calls, so each thread gets its own.
_local = threading.local()


def _stemmer(algorithm: str = "english") -> snowballstemmer.stemmer:
    stemmers: dict[str, snowballstemmer.stemmer] | None = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = {}
    stemmer = stemmers.get(algorithm)
    if stemmer is None:
        stemmer = stemmers[algorithm] = snowballstemmer.stemmer(algorithm)
    return stemmer


def term_index(term: str) -> int:
    """Return the sparse dimension of ``term``: a uint32 stable across processes.

    Python's ``hash()`` is salted per process, so the index comes from blake2b.
    """
    return int.from_bytes(blake2b(term.encode("utf-8"), digest_size=4).digest(), "little")


class Analyzer:
    """Text to BM25 terms: a tokenizer, lowercase, stop words, a stemmer."""

    def __init__(self, name: str, word: re.Pattern[str], stemmer: str, possessive: bool) -> None:
        self.name = name
        self.word = word
        self.stemmer = stemmer
        self.possessive = possessive
        self._stems: dict[str, str] = {}

    def _stem(self, token: str) -> str:
        word = token
        if self.possessive and word[-2:] in ("'s", "\u2019s"):
            word = word[:-2]
        stem = "" if not word or word in STOP_WORDS else _stemmer(self.stemmer).stemWord(word)
        if len(self._stems) >= _CACHE_LIMIT:
            self._stems.clear()
        self._stems[token] = stem
        return stem

    def terms(self, text: str) -> list[str]:
        """Lowercase, stemmed tokens of ``text`` without stop words."""
        tokens = self.word.findall(text.lower())
        known = self._stems
        try:
            # Fast path, taken once the vocabulary is warm: one dict lookup per token.
            stems = [known[token] for token in tokens]
        except KeyError:
            stems = [known[token] if token in known else self._stem(token) for token in tokens]
        return [stem for stem in stems if stem]

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """Each token ``terms`` keeps, as ``(start, end, term)``: its character offsets in
        ``text`` and its stemmed term (what search highlights)."""
        lowered = text.lower()
        # Lowercasing lengthens a few characters ("İ" becomes two): offsets into the
        # lowered text are then mapped back to the characters they came from.
        origin = None if len(lowered) == len(text) else _origins(text)
        known = self._stems
        found: list[tuple[int, int, str]] = []
        for match in self.word.finditer(lowered):
            token = match.group()
            stem = known[token] if token in known else self._stem(token)
            if stem:
                start, end = match.span()
                if origin is not None:
                    start, end = origin[start], origin[end - 1] + 1
                found.append((start, end, stem))
        return found

    def matches(self, text: str, terms: Collection[str]) -> list[tuple[int, int, str]]:
        """The ``spans`` whose term is one of ``terms``, in text order.

        Made without a span for every token (search highlights ten texts a search): each
        distinct token of the text is stemmed once (from the cache), and only the tokens
        whose stem is asked for are looked up in the text, where they stand as a whole
        run of word characters, as ``\\w\\w+`` found them. A text whose lowercasing
        changes its length, or an analyzer with other words, takes ``spans``' way.
        """
        if not terms:
            return []
        lowered = text.lower()
        if self.word is not _WORD or len(lowered) != len(text):
            return [found for found in self.spans(text) if found[2] in terms]
        known = self._stems
        wanted: dict[str, str] = {}
        for token in set(self.word.findall(lowered)):
            stem = known[token] if token in known else self._stem(token)
            if stem in terms:
                wanted[token] = stem
        found: list[tuple[int, int, str]] = []
        for token, stem in wanted.items():
            start = lowered.find(token)
            while start >= 0:
                end = start + len(token)
                if _bounded(lowered, start, end):
                    found.append((start, end, stem))
                start = lowered.find(token, end)
        found.sort()
        return found


def _bounded(text: str, start: int, end: int) -> bool:
    """Is ``text[start:end]`` not preceded nor followed by a word character (``\\w``:
    what ``str.isalnum`` says, and the underscore)?"""
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or before == "_" or after.isalnum() or after == "_")


def _origins(text: str) -> list[int]:
    """For each character of ``text.lower()``, the index in ``text`` it came from."""
    return [index for index, char in enumerate(text) for _ in char.lower()]


#: The analyzers by name. ``snowball`` is bm25s's (Snowball English stems of runs of
#: two or more word characters); ``english`` approximates Elasticsearch's English
#: analyzer (standard tokenizer, possessive filter, Porter stems).
ANALYZERS: dict[str, Analyzer] = {
    "snowball": Analyzer("snowball", _WORD, "english", possessive=False),
    "english": Analyzer("english", _ES_WORD, "porter", possessive=True),
}
#: The analyzer of the stored vectors and of queries.
DEFAULT_ANALYZER = "snowball"


def analyzer(name: str = DEFAULT_ANALYZER) -> Analyzer:
    """The analyzer called ``name``; ``KeyError`` for an unknown one."""
    return ANALYZERS[name]


def _index(stem: str) -> int:
    try:
        return _indices[stem]
    except KeyError:
        if len(_indices) >= _CACHE_LIMIT:
            _indices.clear()
        index = _indices[stem] = term_index(stem)
        return index


def _terms(text: str) -> list[str]:
    return ANALYZERS[DEFAULT_ANALYZER].terms(text)


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lowercase, stemmed English tokens without stop words."""
    return _terms(text)


def term_spans(text: str) -> list[tuple[int, int, str]]:
    """Each token of ``text`` that ``tokenize`` keeps, as ``(start, end, term)``:
    character offsets into ``text`` and the stemmed term, stop words left out."""
    return ANALYZERS[DEFAULT_ANALYZER].spans(text)


def term_matches(text: str, terms: Collection[str]) -> list[tuple[int, int, str]]:
    """``term_spans`` of the tokens whose term is one of ``terms`` (``Analyzer.matches``)."""
    return ANALYZERS[DEFAULT_ANALYZER].matches(text, terms)


def document_vector(
    text: str, *, avgdl: float = 150.0, k1: float = 1.5, b: float = 0.75
) -> SparseVector:
    """Return the BM25 document vector of ``text``: saturated term frequencies.

    Each term's value is ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``,
    where ``dl`` is the number of tokens kept. ``avgdl`` is a corpus constant rather
    than a live average so a stored vector never has to be recomputed as the corpus
    grows. Terms whose indices collide are summed into one dimension.
    """
    terms = _terms(text)
    if not terms:
        return SparseVector(indices=[], values=[])
    # Only the length term depends on the document as a whole, so compute it once.
    norm = k1 * (1.0 - b + b * len(terms) / avgdl)
    numerator = k1 + 1.0
    weights: dict[int, float] = {}
    for stem, tf in Counter(terms).items():
        # Each term saturates on its own; distinct terms sharing an index add up.
        index = _index(stem)
        weights[index] = weights.get(index, 0.0) + tf * numerator / (tf + norm)
    return SparseVector(indices=list(weights), values=list(weights.values()))


def query_vector(text: str) -> SparseVector:
    """Return the BM25 query vector of ``text``: each term's share of the query's terms.

    Ranking by BM25 alone is the same as with plain counts; dividing by the number of
    terms keeps the score on one scale whatever the query's length, which is what lets
    hybrid search add it to a cosine similarity with one fixed weight.
    """
    terms = _terms(text)
    shares: dict[int, float] = {}
    for stem, tf in Counter(terms).items():
        index = _index(stem)
        shares[index] = shares.get(index, 0.0) + tf / len(terms)
    return SparseVector(indices=list(shares), values=list(shares.values()))
