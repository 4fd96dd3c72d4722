"""A document's text put back together from its chunks (``document_detail.assemble``)."""

from __future__ import annotations

import pytest
from gateway_service.document_detail import assemble
from semantik_contracts.documents import StoredChunk

pytestmark = pytest.mark.unit


def chunks(*texts: str) -> list[StoredChunk]:
    return [StoredChunk(index=i, text=t) for i, t in enumerate(texts)]


def test_an_overlap_is_kept_once_and_each_span_is_its_chunk() -> None:
    parts = chunks(
        "The keeper polished the great lens every evening.",
        "the great lens every evening. Then he logged the ships.",
        "logged the ships. At dawn he slept.",
    )
    text, spans = assemble(parts)
    assert text == (
        "The keeper polished the great lens every evening. Then he logged the ships. "
        "At dawn he slept."
    )
    assert [text[s.start : s.end] for s in spans] == [c.text for c in parts]


def test_chunks_without_an_overlap_are_joined_by_a_line_break() -> None:
    parts = chunks("# Part one\n\nFirst words.", "# Part two\n\nSecond words.")
    text, spans = assemble(parts)
    assert text == "# Part one\n\nFirst words.\n# Part two\n\nSecond words."
    assert [(s.start, s.end) for s in spans] == [(0, 24), (25, 50)]


def test_a_short_or_mid_word_repeat_is_not_taken_for_an_overlap() -> None:
    # "ing" ends the first chunk and starts the second by chance; so does "on the".
    text, _ = assemble(chunks("it was raining", "ingots of gold"))
    assert text == "it was raining\ningots of gold"
    text, _ = assemble(chunks("The cat sat on the", "on the mat, it slept."))
    assert text == "The cat sat on the\non the mat, it slept."


def test_no_chunks_no_text() -> None:
    assert assemble([]) == ("", [])
