"""The hybrid tuner's ranking steps (``semantik.tune_rank``): pure numpy, no services."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from semantik_runtime.sparse import document_vector, tokenize

from semantik.tune_hybrid import TRAINING, main
from semantik.tune_rank import (
    Fusion,
    build_index,
    fused,
    measure,
    query_weights,
    rank_documents,
    sparse_scores,
)

pytestmark = pytest.mark.unit

TEXTS = ["yeast cells ferment sugar", "yeast yeast genome", "marathon runners", "cells"]


def test_index_stores_what_document_vector_stores_with_qdrants_idf() -> None:
    index = build_index(TEXTS, tokenize, k1=1.5, b=0.75, avgdl=150.0)
    rows, values = index.postings["yeast"]
    assert rows.tolist() == [0, 1]
    stored = document_vector(TEXTS[1])
    assert values[1] == pytest.approx(max(stored.values))
    # Qdrant's IDF modifier: ln(1 + (N - df + 0.5) / (df + 0.5)).
    assert index.idf["yeast"] == pytest.approx(math.log(1 + (4 - 2 + 0.5) / (2 + 0.5)))
    scores = sparse_scores(index, query_weights(tokenize("yeast"), 1.0))
    assert scores[1] > scores[0] > 0 and scores[2] == scores[3] == 0


def test_query_weights_divide_counts_by_a_power_of_the_length() -> None:
    assert query_weights(["a", "a", "b", "c"], 1.0) == {"a": 0.5, "b": 0.25, "c": 0.25}
    assert query_weights(["a", "b", "c", "d"], 0.5) == {t: 0.5 for t in "abcd"}
    assert query_weights([], 1.0) == {}


def test_sum_fusion_is_the_engines_formula_over_the_union_of_both_prefetches() -> None:
    dense = np.array([0.9, 0.1, 0.5, 0.2])
    sparse = np.array([0.0, 4.0, 0.0, 1.0])
    chunks, scores = fused(dense, sparse, Fusion("sum", 0.1), prefetch=1)
    assert chunks.tolist() == [0, 1]  # the best of each side
    assert scores.tolist() == pytest.approx([0.9, 0.5])
    chunks, scores = fused(dense, sparse, Fusion("minmax", 0.5), prefetch=4)
    assert scores[chunks.tolist().index(1)] == pytest.approx(0.5 * 0.0 + 0.5 * 1.0)
    chunks, scores = fused(dense, sparse, Fusion("rrf", 1.0), prefetch=4)
    assert scores[chunks.tolist().index(0)] == pytest.approx(1 / 61)


def test_documents_by_best_chunk_or_decayed_sum() -> None:
    chunks = np.array([0, 1, 2, 3])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    records = ["a", "b", "b", "c"]
    assert rank_documents(chunks, scores, records, decay=0.0, limit=10) == ["a", "b", "c"]
    # b: 0.8 + 0.5 x 0.7 = 1.15 overtakes a's single chunk.
    assert rank_documents(chunks, scores, records, decay=0.5, limit=2) == ["b", "a"]


def test_measure_drops_a_document_whose_id_is_the_querys() -> None:
    figures = measure({"q1": ["q1", "d1"]}, {"q1": {"d1": 1}})
    assert figures["ndcg@10"] == pytest.approx(1.0)
    assert figures["mrr@10"] == pytest.approx(1.0)


def test_the_tuner_refuses_a_split_that_is_not_training(capsys: pytest.CaptureFixture[str]) -> None:
    assert all(spec.endswith(":train") for spec in TRAINING)
    assert main(["--sets", "nfcorpus:dev"]) == 2
    assert "not a training split" in capsys.readouterr().err


def test_the_tuner_chunks_records_as_a_collection_of_the_size_asked_for(tmp_path: Path) -> None:
    from ingest_service.extraction.chunking import default_tokenizer

    from semantik.tune_data import CHUNK_SIZE, _cached_chunks

    words = " ".join(f"word{n}" for n in range(600))
    corpus = tmp_path / "corpus.jsonl"
    rows = [{"_id": "long", "title": "A title", "text": words}, {"_id": "short", "text": "Brief."}]
    corpus.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    tokenizer = default_tokenizer()
    by_size = {}
    for size in (CHUNK_SIZE, CHUNK_SIZE // 2):
        ids, titles, texts, first = _cached_chunks(corpus, tmp_path / "cache", size)
        assert ids.count("short") == 1 and texts[ids.index("short")] == "Brief."
        assert all(len(tokenizer.encode(t, add_special_tokens=False)) <= size for t in texts)
        assert first[ids.index("long")] and titles[ids.index("long")] == "A title"
        by_size[size] = ids.count("long")
        # Kept on disk under its size: the second call reads it back.
        assert _cached_chunks(corpus, tmp_path / "cache", size) == (ids, titles, texts, first)
    assert by_size[CHUNK_SIZE // 2] > by_size[CHUNK_SIZE] > 1


def test_the_tuners_dense_title_options(tmp_path: Path) -> None:
    from semantik.tune_data import Corpus, Encoder, dense_variant

    class Lengths(Encoder):
        """A stand-in model: a text's vector is its length, twice; counts its texts."""

        encoded: list[str] = []

        def documents(self, texts: list[str]) -> np.ndarray:
            self.encoded.extend(texts)
            return np.array([[len(t), len(t)] for t in texts], dtype=np.float32)

    chunks = ["Title\n\nfirst part", "second part", "untitled"]
    corpus = Corpus(
        record_ids=["a", "a", "b"],
        titles=["Title", "Title", ""],
        texts=chunks,
        first=[True, False, True],
        dense=np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32),
    )
    encoder = Lengths("stand-in")
    headers = dense_variant("headers", corpus, encoder, tmp_path)
    # Only the titled record's later chunk is encoded again, with its title before it.
    assert encoder.encoded == ["Title\n\nsecond part"]
    assert headers.tolist() == [[1, 0], [18, 18], [1, 1]]
    titled = dense_variant("title:0.5", corpus, encoder, tmp_path)
    assert titled.tolist() == [[3.5, 2.5], [2.5, 3.5], [1, 1]]  # + 0.5 x len("Title")
    dense_variant("headers", corpus, encoder, tmp_path)  # read back from the cache
    assert encoder.encoded == ["Title\n\nsecond part", "Title"]
    with pytest.raises(ValueError, match="unknown dense option"):
        dense_variant("summary", corpus, encoder, tmp_path)


def test_the_engine_check_indexes_the_title_as_ingest_does(tmp_path: Path) -> None:
    """``--check`` and the numpy ranking agree on the pipeline's titled chunks, and the
    engine's store holds the headed vectors: a query that is the later chunk's headed
    vector finds its record first in both, and not without the title."""
    from semantik.tune_data import Corpus
    from semantik.tune_hybrid import Loaded, Setting, engine_check, evaluate

    rng = np.random.default_rng(7)

    def unit(n: int) -> np.ndarray:
        rows = rng.normal(size=(n, 8)).astype(np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    plain = unit(5)
    query = unit(1)[0]
    plain[0] = plain[1] = -query  # record a's chunks, each alone, point away from q1
    headed = plain.copy()
    headed[1] = query  # a's later chunk read after its title: q1 itself
    corpus = Corpus(
        record_ids=["a", "a", "b", "c", "d"],
        titles=["Yeast genetics", "Yeast genetics", "", "Marathons", ""],
        texts=[
            "Yeast genetics\n\nbudding cells",
            "sugar ferments",
            "cells divide",
            "Marathons\n\nrunners train",
            "bread rises",
        ],
        first=[True, False, True, True, True],
        dense=plain,
    )
    data = Loaded(
        "toy:train",
        corpus,
        ["q1", "q2"],
        ["why does sugar ferment", "runners"],
        np.stack([query, plain[3]]),
        {"q1": {"a": 1}, "q2": {"c": 1}},
        {},
        lambda option: headed if option == "headers" else plain,
    )
    titled = Setting()
    assert (titled.title, titled.dense) == ("every", "headers")  # as ingest indexes
    engine = engine_check(data, titled, tmp_path / "edge")
    assert engine["ndcg@10"] == pytest.approx(evaluate(data, titled)["ndcg@10"]) == 1.0
    untitled = Setting(title="none", dense="chunks")
    assert evaluate(data, untitled, "dense")["ndcg@10"] < 1.0
