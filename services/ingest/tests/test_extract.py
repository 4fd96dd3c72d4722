"""Reading documents: encodings detected, binary and empty files refused with a reason."""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

import pytest
from ingest_service.extraction.extract import DocumentError, decode
from ingest_service.extraction.formats import document_text
from ingest_service.extraction.units import read_file_unit

pytestmark = pytest.mark.unit

TEXT = "Grüße aus Köln — naïve café\nzweite Zeile"


def read(
    tmp_path: Path, data: bytes, name: str = "doc.txt", limit: int = 1 << 20
) -> tuple[str, str]:
    path = tmp_path / name
    path.write_bytes(data)
    unit = read_file_unit(str(path), str(path), limit)
    assert unit.sha256 == hashlib.sha256(data).hexdigest()
    assert unit.size == len(data)
    text = document_text(str(path), unit.data)
    assert text == decode(unit.data)[0]
    return decode(unit.data)


def failure(tmp_path: Path, data: bytes, limit: int = 1 << 20) -> str:
    path = tmp_path / "doc.md"
    path.write_bytes(data)
    with pytest.raises(DocumentError) as caught:
        document_text(str(path), read_file_unit(str(path), str(path), limit).data)
    return caught.value.reason


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16-le"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16-be"),
        (codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"), "utf-32-le"),
        (TEXT.encode("utf-16-le"), "utf-16-le"),
        (TEXT.encode("cp1252"), "cp1252"),
    ],
)
def test_encodings_are_detected(tmp_path: Path, data: bytes, encoding: str) -> None:
    assert read(tmp_path, data) == (TEXT, encoding)


def test_undecodable_bytes_fall_back_to_latin_1(tmp_path: Path) -> None:
    text, encoding = read(tmp_path, b"caf\xe9 \x81 ok")
    assert encoding == "latin-1"
    assert text.startswith("café")


def test_line_endings_are_normalised(tmp_path: Path) -> None:
    assert read(tmp_path, b"one\r\ntwo\rthree\n")[0] == "one\ntwo\nthree\n"


def test_type_and_mime_come_from_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "Notes.MARKDOWN"
    path.write_text("# hi")
    unit = read_file_unit(str(path), str(path), 100)
    assert (unit.file_type, unit.mime) == ("markdown", "text/markdown")


def test_nul_bytes_mean_a_binary_file(tmp_path: Path) -> None:
    assert failure(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01") == "binary file"


def test_mostly_control_characters_mean_a_binary_file(tmp_path: Path) -> None:
    assert failure(tmp_path, bytes(range(1, 32)) * 20) == "binary file"


@pytest.mark.parametrize("data", [b"", b"  \n\t\n", codecs.BOM_UTF8])
def test_empty_documents_fail(tmp_path: Path, data: bytes) -> None:
    assert failure(tmp_path, data) == "empty document"


def test_files_over_the_limit_fail(tmp_path: Path) -> None:
    assert failure(tmp_path, b"x" * 101, limit=100).startswith("file too large")


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Привет! Это тестовый текст на русском языке, для поиска.", "cp1251"),
        ("これは日本語のテキストです。検索エンジンのテストをします。", "shift_jis"),
        ("Ελληνικό κείμενο για τη δοκιμή της αναζήτησης εγγράφων.", "cp1253"),  # noqa: RUF001
    ],
)
def test_legacy_encodings_of_other_scripts_are_detected(
    tmp_path: Path, text: str, encoding: str
) -> None:
    assert read(tmp_path, text.encode(encoding))[0] == text


def test_latin_1_text_is_read_as_western_text(tmp_path: Path) -> None:
    text = "Grüße aus München, schöne Straße, naïve Café-Kultur"
    assert read(tmp_path, text.encode("latin-1")) == (text, "cp1252")
