"""Reading a document: its bytes, their SHA-256, and its text with the encoding detected.

Per-document problems (binary, empty, too large, unreadable) are ``DocumentError``s with
a reason the user sees in the operation's failures; they never stop a scan.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import stat
from dataclasses import dataclass

#: Extension → MIME type of the formats this service reads.
MIME_TYPES = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".rst": "text/x-rst",
}

_BOMS = (
    # UTF-32 before UTF-16: the UTF-32-LE mark begins with the UTF-16-LE one.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONTROL = frozenset(chr(c) for c in range(32)) - set("\t\n\r\f\v")


class DocumentError(Exception):
    """A document that cannot be indexed; ``reason`` is shown to the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Extracted:
    text: str
    sha256: str
    size: int
    mime: str
    file_type: str
    encoding: str


def file_type(path: str) -> str:
    """The lowercase extension without its dot (``md``), as stored in chunk payloads."""
    return os.path.splitext(path)[1].lower().lstrip(".")


def read_document(path: str, max_bytes: int) -> Extracted:
    """Read, hash and decode one file; raise ``DocumentError`` when it cannot be indexed."""
    data = read_bytes(path, max_bytes)
    if not data:
        raise DocumentError("empty document")
    text, encoding = decode(data)
    if not text.strip():
        raise DocumentError("empty document")
    ext = os.path.splitext(path)[1].lower()
    return Extracted(
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        mime=MIME_TYPES.get(ext, "text/plain"),
        file_type=ext.lstrip("."),
        encoding=encoding,
    )


def read_bytes(path: str, max_bytes: int) -> bytes:
    try:
        # O_NONBLOCK: a FIFO swapped in after the walk must not hang the reader.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise DocumentError(f"cannot open: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise DocumentError("not a regular file")
        if st.st_size > max_bytes:
            raise DocumentError(f"file too large ({st.st_size} bytes; the limit is {max_bytes})")
        try:
            data = f.read(max_bytes + 1)
        except OSError as exc:
            raise DocumentError(f"cannot read: {exc.strerror}") from None
    if len(data) > max_bytes:
        raise DocumentError(f"file too large (over {max_bytes} bytes)")
    return data


def decode(data: bytes) -> tuple[str, str]:
    """Text and encoding name: a BOM wins, then UTF-8, then Windows-1252/Latin-1.

    NUL bytes mean binary, unless they fall in the pattern of BOM-less UTF-16.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _checked(data[len(bom) :].decode(encoding, errors="replace")), encoding
    if b"\x00" in data:
        utf16 = _utf16_without_bom(data)
        if utf16 is None:
            raise DocumentError("binary file")
        return _checked(data.decode(utf16, errors="replace")), utf16
    try:
        return _checked(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return _checked(data.decode("cp1252")), "cp1252"
    except UnicodeDecodeError:
        return _checked(data.decode("latin-1")), "latin-1"


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` when NULs sit in every other byte, as in ASCII-heavy UTF-16."""
    if len(data) % 2:
        return None
    even, odd = data[0::2], data[1::2]
    half = len(data) // 2
    if odd.count(0) > 0.4 * half and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) > 0.4 * half and odd.count(0) == 0:
        return "utf-16-be"
    return None


def _checked(text: str) -> str:
    """Reject text that is mostly control characters (binary decoded by a fallback)."""
    sample = text[:8192]
    if sample and sum(ch in _CONTROL for ch in sample) > 0.1 * len(sample):
        raise DocumentError("binary file")
    return text.replace("\r\n", "\n").replace("\r", "\n")
