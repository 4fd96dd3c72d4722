"""Token-aware chunking with the default model's tokenizer."""

from __future__ import annotations

import itertools
import random
import re
from uuid import UUID, uuid4, uuid5

import pytest
from ingest_service.domain import chunk_id, document_id
from ingest_service.extraction.chunking import MAX_CHARS_PER_TOKEN, Chunker, default_tokenizer

pytestmark = pytest.mark.unit

WORDS = [
    "cell", "protein", "expression", "increased", "patients", "significant", "results",
    "analysis", "study", "treatment", "model", "data", "suggest", "mechanism", "response",
    "tumour", "receptor", "binding",
]  # fmt: skip


@pytest.fixture(scope="module")
def chunker() -> Chunker:
    return Chunker(default_tokenizer())


def model_tokens(text: str) -> int:
    """Tokens the model sees for ``text``, [CLS] and [SEP] included."""
    return len(default_tokenizer().encode(text, add_special_tokens=True).ids)


def sentences(rng: random.Random, count: int) -> str:
    return " ".join(
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 20))).capitalize() + "."
        for _ in range(count)
    )


def test_no_chunk_exceeds_the_chunk_size_in_model_tokens(chunker: Chunker) -> None:
    rng = random.Random(7)
    text = "\n\n".join(sentences(rng, rng.randint(1, 12)) for _ in range(40))
    for size in (32, 64, 128, 256):
        chunks = chunker.split(text, size, size // 10)
        assert len(chunks) > 1
        for chunk in chunks:
            assert model_tokens(chunk.text) <= size
            assert chunk.tokens == model_tokens(chunk.text) - 2


def test_words_longer_than_a_chunk_are_cut_within_the_bound(chunker: Chunker) -> None:
    text = "start " + "x".join(["supercalifragilistic"] * 4) + " end " + "ab" * 40
    chunks = chunker.split(text, 32, 4)
    assert all(model_tokens(c.text) <= 32 for c in chunks)
    assert "".join(c.text for c in chunks).replace(" ", "").startswith("start")


def test_consecutive_chunks_overlap_by_about_the_overlap(chunker: Chunker) -> None:
    rng = random.Random(3)
    text = sentences(rng, 200)  # one long paragraph: only sentence and word cuts
    chunks = chunker.split(text, 128, 24)
    tokenizer = default_tokenizer()
    for left, right in itertools.pairwise(chunks):
        shared = _shared_prefix_suffix(left.text, right.text)
        assert shared, "consecutive chunks share no text"
        overlap = len(tokenizer.encode(shared, add_special_tokens=False).ids)
        assert 12 <= overlap <= 24


def _shared_prefix_suffix(left: str, right: str) -> str:
    for size in range(min(len(left), len(right)), 0, -1):
        if left.endswith(right[:size]):
            return right[:size]
    return ""


def test_without_overlap_chunks_tile_the_text(chunker: Chunker) -> None:
    text = sentences(random.Random(5), 60)
    chunks = chunker.split(text, 64, 0)
    assert " ".join(c.text for c in chunks) == text


def test_chunks_end_at_sentence_ends_when_paragraphs_are_long(chunker: Chunker) -> None:
    text = sentences(random.Random(11), 120)
    chunks = chunker.split(text, 128, 12)
    assert all(c.text.endswith(".") for c in chunks)


def test_sections_under_headings_stay_whole(chunker: Chunker) -> None:
    rng = random.Random(1)
    sections = [f"## Section {n}\n\n{sentences(rng, 6)}" for n in range(6)]
    text = "# Title\n\n" + "\n\n".join(sections)
    chunks = chunker.split(text, 256, 25)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.startswith("#"), chunk.text[:40]
        assert len(re.findall(r"(?m)^#+ ", chunk.text)) == len(re.findall(r"#+", chunk.text))
    for section in sections:  # each section lies whole in one chunk
        assert any(section in chunk.text for chunk in chunks), section[:20]


def test_chunking_is_deterministic_and_ids_are_derived(chunker: Chunker) -> None:
    text = sentences(random.Random(2), 50)
    first = chunker.split(text, 64, 8)
    assert first == chunker.split(text, 64, 8)
    assert [c.index for c in first] == list(range(len(first)))
    collection = uuid4()
    doc = document_id(collection, "ab" * 32)
    assert doc == uuid5(collection, "ab" * 32)
    assert chunk_id(doc, 3) == uuid5(doc, "3") == UUID(str(chunk_id(doc, 3)))


def test_whitespace_only_text_has_no_chunks(chunker: Chunker) -> None:
    assert chunker.split(" \n\n ", 256, 25) == []


def test_long_documents_are_chunked_in_blocks_within_the_bound(chunker: Chunker) -> None:
    rng = random.Random(9)
    text = "\n\n".join(sentences(rng, 5) for _ in range(600))  # well past one block
    assert len(text) > 200_000
    chunks = chunker.split(text, 256, 25)
    assert all(c.tokens <= 254 for c in chunks)
    assert chunks[-1].text.endswith(text.rstrip()[-20:])


def test_a_word_longer_than_the_model_reads_is_cut_into_chunks_of_bounded_length(
    chunker: Chunker,
) -> None:
    """A word of over 100 characters is one unknown token to the model, so a sequence
    or a hex string of 60,000 characters was one chunk of 60,000 characters."""
    word = "ACGT" * 15_000
    text = f"The sequence follows.\n\n{word}\n\nIt ends here."
    chunks = chunker.split(text, 256, 25)
    most = 254 * MAX_CHARS_PER_TOKEN
    assert all(len(c.text) <= most for c in chunks)
    assert all(c.tokens == model_tokens(c.text) - 2 <= 254 for c in chunks)
    assert chunks[0].text == "The sequence follows."
    assert chunks[-1].text == "It ends here."
    assert "".join(c.text for c in chunks[1:-1]) == word  # cut, not overlapped or lost


def test_white_space_does_not_stretch_a_chunk(chunker: Chunker) -> None:
    """Padding counts no tokens: a chunk ends where its characters reach the bound,
    and the next starts at the following words, without overlap."""
    words = [f"w{i}" for i in range(600)]
    text = " ".join(words[:300]) + " " * 50_000 + " ".join(words[300:])
    chunks = chunker.split(text, 64, 6)
    assert all(len(c.text) <= 62 * MAX_CHARS_PER_TOKEN for c in chunks)
    assert all(c.tokens <= 62 for c in chunks)
    found = [word for c in chunks for word in c.text.split()]
    assert set(found) == set(words)
    assert not any(c.text.strip() == "" for c in chunks)


def test_prose_is_chunked_as_before_the_length_bound(chunker: Chunker) -> None:
    """The bound is far past what prose reaches: a chunk of ordinary words is cut by
    its tokens alone."""
    rng = random.Random(11)
    text = "\n\n".join(sentences(rng, rng.randint(1, 12)) for _ in range(40))
    chunks = chunker.split(text, 256, 25)
    assert max(len(c.text) for c in chunks) < 254 * MAX_CHARS_PER_TOKEN // 2
    overlapping = sum(c.text[-30:] in n.text for c, n in itertools.pairwise(chunks))
    assert overlapping >= len(chunks) // 2  # still overlapping where not cut by length
