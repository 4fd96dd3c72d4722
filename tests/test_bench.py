"""The ingest benchmark's corpus: generated, deterministic, real words (SPEC §9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from semantik.bench_ingest import write_corpus

pytestmark = pytest.mark.unit


def test_the_corpus_is_the_same_every_run(tmp_path: Path) -> None:
    write_corpus(tmp_path / "a", documents=3, words=50)
    write_corpus(tmp_path / "b", documents=3, words=50)
    first = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert first == ["doc-00000.md", "doc-00001.md", "doc-00002.md"]
    for name in first:
        text = (tmp_path / "a" / name).read_text()
        assert text == (tmp_path / "b" / name).read_text()
        body = text.split("\n\n", 1)[1]
        assert 50 <= len(body.split()) < 50 + 18
        assert all(word.strip(".").isalpha() for word in body.split())
    assert (tmp_path / "a" / first[0]).read_text() != (tmp_path / "a" / first[1]).read_text()
