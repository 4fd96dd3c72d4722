"""Reading a file's bytes safely, and decoding text with its encoding detected.

Per-document problems (binary, empty, too large, unreadable) are ``DocumentError``s with
a reason the user sees in the operation's failures; they never stop a scan. Encodings:
a byte-order mark wins, then strict UTF-8, then ``charset-normalizer`` (the detector
``requests`` uses; it knows the legacy code pages and CJK encodings), then cp1252.
"""

from __future__ import annotations

import codecs
import os
import stat
import unicodedata

#: Extension → MIME type of the plain-text formats.
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


def file_type(path: str) -> str:
    """The lowercase extension without its dot (``md``), as stored in chunk payloads."""
    return os.path.splitext(path)[1].lower().lstrip(".")


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
    """Text and encoding name: a BOM wins, then UTF-8, then the detected encoding, then
    Windows-1252 and Latin-1.

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
    detected = _detected(data)
    if detected is not None:
        return detected
    try:
        return _checked(data.decode("cp1252")), "cp1252"
    except UnicodeDecodeError:
        return _checked(data.decode("latin-1")), "latin-1"


def _detected(data: bytes) -> tuple[str, str] | None:
    """The text in the encoding ``charset-normalizer`` finds in the first 64 KiB, when
    that is a non-Latin script (Cyrillic, Greek, CJK, ...) seen in a few words at least.

    Between the Latin code pages (cp1250, cp1252, Mac Roman, ...) detection on short
    text is a coin toss, so text in Latin script is left to the Western default.
    """
    from charset_normalizer import from_bytes

    best = from_bytes(data[:65536]).best()
    if best is None or best.encoding in ("ascii", "utf_8"):
        return None
    encoding = codecs.lookup(best.encoding).name
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    letters = [ch for ch in text[:8192] if ch.isalpha() and ord(ch) > 0x7F]
    if len(letters) < 8 or all(unicodedata.name(ch, "").startswith("LATIN") for ch in letters):
        return None
    return _checked(text), encoding


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
