"""The document formats and how each becomes text (record formats are in ``tables``).

Headings are kept as Markdown headings (``# Title``) whatever the format, so the
chunker starts chunks at sections everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

from .extract import MIME_TYPES, DocumentError, decode, file_type
from .markup import eml_text, html_text
from .office import docx_text, pdf_text, pptx_text
from .tables import RECORD_TYPES

#: Extension → MIME type of the formats read as one document each.
DOCUMENT_TYPES = {
    **MIME_TYPES,
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".eml": "message/rfc822",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
#: Every extension a scan reads, with its MIME type.
SUPPORTED_TYPES = {**DOCUMENT_TYPES, **RECORD_TYPES}

_READERS: dict[str, Callable[[bytes], str]] = {
    "html": lambda data: html_text(decode(data)[0]),
    "htm": lambda data: html_text(decode(data)[0]),
    "xhtml": lambda data: html_text(decode(data)[0]),
    "eml": eml_text,
    "pdf": pdf_text,
    "docx": docx_text,
    "pptx": pptx_text,
}


def is_supported(path: str) -> bool:
    return f".{file_type(path)}" in SUPPORTED_TYPES


def mime_of(path: str) -> str:
    return SUPPORTED_TYPES.get(f".{file_type(path)}", "application/octet-stream")


def document_text(path: str, data: bytes) -> str:
    """The text of one document; ``DocumentError`` when it has none or cannot be read."""
    if not data:
        raise DocumentError("empty document")
    reader = _READERS.get(file_type(path))
    text = decode(data)[0] if reader is None else reader(data)
    if not text.strip():
        raise DocumentError("empty document")
    return text
