"""A BEIR data set as the pipeline would index it, for ``semantik.tune_hybrid``.

Each corpus record becomes the text ``semantik eval`` ingests (title and text, joined
by a blank line, as a record source with text columns ``title`` and ``text``), split
by the ingest service's own chunker with the collection defaults (the model's 256
tokens, 25 overlap), and encoded by the embedder's own model code. The chunk vectors
and the query vectors are cached on disk (``--cache``), keyed by the data set, the
model and a digest of the texts, so a second run costs seconds.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from semantik_contracts.search import DEFAULT_MODEL
from semantik_contracts.work import headed

from .beir import Dataset

Vectors = npt.NDArray[np.float32]

#: The collection defaults (ingest_service.application.start_scan): the model's
#: sequence length, and a tenth of it overlapping.
CHUNK_SIZE = DEFAULT_MODEL.max_seq_length


@dataclass(frozen=True)
class Corpus:
    """Every chunk of the corpus: its record id, its text, its dense vector."""

    record_ids: list[str]
    titles: list[str]  # the record's title, for every chunk of it
    texts: list[str]
    first: list[bool]  # whether the chunk is its record's first (the one with the title)
    dense: Vectors


def record_text(row: dict[str, object]) -> str:
    """The text a record source with text columns ``title`` and ``text`` indexes."""
    parts = [str(row.get(column) or "").strip() for column in ("title", "text")]
    return "\n\n".join(part for part in parts if part)


def _chunks(
    corpus: Path, size: int, overlap: int
) -> tuple[list[str], list[str], list[str], list[bool]]:
    from ingest_service.extraction.chunking import Chunker, default_tokenizer

    chunker = Chunker(default_tokenizer())
    ids: list[str] = []
    titles: list[str] = []
    texts: list[str] = []
    first: list[bool] = []
    with corpus.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            row = json.loads(line)
            text = record_text(row)
            if not text:
                continue
            for chunk in chunker.split(text, size, overlap):
                ids.append(str(row["_id"]))
                titles.append(str(row.get("title") or ""))
                texts.append(chunk.text)
                first.append(chunk.index == 0)
    return ids, titles, texts, first


def _digest(texts: list[str]) -> str:
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _cached(path: Path, texts: list[str], encode: object) -> Vectors:
    if path.is_file():
        return np.load(path)  # type: ignore[no-any-return]
    started = time.perf_counter()
    batches: list[Vectors] = []
    step = 256
    for start in range(0, len(texts), step):
        batches.append(encode(texts[start : start + step]))  # type: ignore[operator]
        done = min(start + step, len(texts))
        rate = done / (time.perf_counter() - started)
        print(f"  encoded {done}/{len(texts)} ({rate:.1f}/s)", file=sys.stderr)
    vectors = np.concatenate(batches) if batches else np.zeros((0, 0), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


class Encoder:
    """The embedder's model, loaded on first use (a cache hit needs no torch)."""

    def __init__(self, model: str) -> None:
        self.name = model
        self._model: object = None

    def _loaded(self) -> object:
        if self._model is None:
            from embedder_service.model import load_model

            self._model = load_model(self.name)
        return self._model

    def documents(self, texts: list[str]) -> Vectors:
        return self._loaded().encode(texts)  # type: ignore[attr-defined,no-any-return]

    def queries(self, texts: list[str]) -> Vectors:
        model = self._loaded()
        out = [model.encode_queries(texts[i : i + 32]) for i in range(0, len(texts), 32)]  # type: ignore[attr-defined]
        return np.concatenate(out)


def _cached_chunks(
    corpus: Path, cache: Path, size: int
) -> tuple[list[str], list[str], list[str], list[bool]]:
    """``_chunks``, kept in ``cache`` by the corpus file's digest (chunking is slow)."""
    overlap = size // 10  # the collections' default overlap for that size
    digest = hashlib.sha256(corpus.read_bytes()).hexdigest()[:16]
    path = cache / f"chunks-{size}-{overlap}-{digest}.json"
    if path.is_file():
        ids, titles, texts, first = json.loads(path.read_text(encoding="utf-8"))
        return ids, titles, texts, first
    found = _chunks(corpus, size, overlap)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(found), encoding="utf-8")
    return found


def load_corpus(
    dataset: Dataset, encoder: Encoder, cache: Path, chunk_size: int = CHUNK_SIZE
) -> Corpus:
    """The corpus chunked as a collection with ``chunk_size`` tokens (overlap a tenth)."""
    ids, titles, texts, first = _cached_chunks(dataset.corpus, cache, chunk_size)
    slug = encoder.name.replace("/", "_")
    path = cache / f"{dataset.name}-{slug}-{chunk_size}-{_digest(texts)}.npy"
    print(f"{dataset.name}: {len(texts)} chunks of {len(set(ids))} records", file=sys.stderr)
    return Corpus(ids, titles, texts, first, _cached(path, texts, encoder.documents))


def title_texts(corpus: Corpus) -> list[str]:
    """Each chunk's text with its record's title before it, as the first chunk already
    has it (a "contextual header"); a record without a title keeps its chunks as they are."""
    return [
        headed("" if first else title, text)
        for title, text, first in zip(corpus.titles, corpus.texts, corpus.first, strict=True)
    ]


def dense_variant(name: str, corpus: Corpus, encoder: Encoder, cache: Path) -> Vectors:
    """Chunk vectors of a dense-side title option of ``semantik.tune_hybrid``:

    - ``headers``: each later chunk encoded with its record's title before it;
    - ``title:<g>``: each chunk's vector plus ``g`` times its record's title's vector,
      so a chunk's cosine becomes cos(query, chunk) + g x cos(query, title).
    """
    slug = encoder.name.replace("/", "_")
    if name == "headers":
        texts = title_texts(corpus)
        later = [
            i
            for i, (t, f) in enumerate(zip(corpus.titles, corpus.first, strict=True))
            if t and not f
        ]
        wanted = [texts[i] for i in later]
        path = cache / f"headers-{slug}-{_digest(wanted)}.npy"
        vectors = corpus.dense.copy()
        if later:
            vectors[later] = _cached(path, wanted, encoder.documents)
        return vectors
    kind, _, weight = name.partition(":")
    if kind != "title" or not weight:
        raise ValueError(f"unknown dense option {name!r}")
    titles = sorted({t for t in corpus.titles if t})
    path = cache / f"titles-{slug}-{_digest(titles)}.npy"
    encoded = _cached(path, titles, encoder.documents) if titles else corpus.dense[:0]
    row = {title: n for n, title in enumerate(titles)}
    added = np.zeros_like(corpus.dense)
    for n, title in enumerate(corpus.titles):
        if title:
            added[n] = encoded[row[title]]
    return corpus.dense + float(weight) * added


def load_queries(dataset: Dataset, encoder: Encoder, cache: Path) -> tuple[list[str], Vectors]:
    """The split's query ids and their vectors (the embedder's query pass)."""
    ids = list(dataset.queries)
    texts = [dataset.queries[q] for q in ids]
    slug = encoder.name.replace("/", "_")
    path = cache / f"{dataset.name}-{dataset.split}-queries-{slug}-{_digest(texts)}.npy"
    return ids, _cached(path, texts, encoder.queries)
