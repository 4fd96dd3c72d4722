"""The document formats and how each becomes text (record formats are in ``tables``).

Headings are kept as Markdown headings (``# Title``) whatever the format, so the
chunker starts chunks at sections everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .extract import MIME_TYPES, DocumentError, decode, file_type
from .markup import eml_text, html_text
from .office import docx_text, pdf_text, pdf_title, pptx_text
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


#: How far into a document its title may be: the title a reader gives a file comes
#: within its first lines (an HTML page's navigation may come before its heading).
TITLE_LINES = 5
#: A title longer than this is a paragraph set as a heading, not a title.
TITLE_MAX_CHARS = 300
#: Where a title is looked for: the text's start, and lines no longer than a title can
#: be. The patterns below backtrack over a long run of spaces, quadratically: a
#: file's first line of a million spaces must not hold an extraction process for hours.
_HEAD_CHARS = 16_384
_LINE_MAX_CHARS = 2 * TITLE_MAX_CHARS
_ATX_TITLE = re.compile(r"#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*")
_UNDERLINE = re.compile(r"([=\-~*#^\"+])\1*[ \t]*")
_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|$)", re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"title:[ \t]*(['\"]?)(.+?)\1[ \t]*")
_FIRST_SLIDE = re.compile(r"# Slide 1: (.+)")
#: Where a PDF's title must be printed, and how much of it (``_printed``): a first page.
PRINTED_CHARS = 2000
PRINTED_SHARE = 0.8
_WORD = re.compile(r"\w+")
#: The lines read for a title, blank ones included.
_HEAD_LINES = 64


def document_title(path: str, text: str, data: bytes = b"") -> str:
    """A whole file's title, as its extracted ``text`` gives it, or ``""``: the ``title``
    of a Markdown file's front matter, else the first level-1 heading (``# Title``, or a
    Markdown or reStructuredText title underlined) in its first ``TITLE_LINES`` lines,
    which is what a page's ``<title>``, a Word document's Title or Heading 1, an e-mail's
    subject become (``document_text``); a deck's is its first slide's title. A PDF's is
    the title in its document information (from its bytes, ``data``) only where its
    first page prints it (``_printed``): that field is as often a tool's or a template's
    name ("Microsoft Word - draft.docx"). Plain text has none."""
    kind = file_type(path)
    if kind == "pdf":
        return _printed(pdf_title(data), text)
    text = text[:_HEAD_CHARS]
    if kind in ("md", "markdown") and (matter := _FRONT_MATTER.match(text)):
        for line in _short_lines(matter.group(1).split("\n")):
            if named := _FRONT_MATTER_TITLE.fullmatch(line):
                return _title(named.group(2))
        text = text[matter.end() :]
    head = text.split("\n", _HEAD_LINES)[:_HEAD_LINES]
    lines = [line.strip() if len(line) <= _LINE_MAX_CHARS else "" for line in head if line.strip()][
        : TITLE_LINES + 1
    ]
    if kind == "pptx":
        first = _FIRST_SLIDE.fullmatch(lines[0]) if lines else None
        return _title(first.group(1)) if first else ""
    if kind not in _TITLED:
        return ""
    for line, below in list(zip(lines, [*lines[1:], ""], strict=False))[:TITLE_LINES]:
        if heading := _ATX_TITLE.fullmatch(line):
            return _title(heading.group(1))
        if kind in _UNDERLINED and _underlines(kind, below, line):
            return _title(line)
    return ""


#: The formats whose extracted text marks a title as a level-1 heading.
_TITLED = frozenset({"md", "markdown", "rst", "html", "htm", "xhtml", "eml", "docx"})
#: The formats whose title may be underlined instead (Markdown's setext headings, and
#: reStructuredText's section titles, the first of which is the document's).
_UNDERLINED = frozenset({"md", "markdown", "rst"})


def _short_lines(lines: list[str]) -> list[str]:
    return [line.rstrip() for line in lines if len(line) <= _LINE_MAX_CHARS]


def _underlines(kind: str, line: str, title: str) -> bool:
    """Whether ``line`` underlines ``title`` as a level-1 heading: ``===`` in Markdown
    (``---`` is a level-2 heading there), any punctuation at least as long as the title
    in reStructuredText (whose first section title is the document's)."""
    if _UNDERLINE.fullmatch(title) or not _UNDERLINE.fullmatch(line):
        return False
    if kind == "rst":
        return len(line.rstrip()) >= len(title)
    return line[0] == "="


def _printed(title: str, text: str) -> str:
    """``title`` if it has two words or more and nearly all of them are in the first
    ``PRINTED_CHARS`` characters of ``text``, else ``""``."""
    words = _WORD.findall(title.lower())
    if len(words) < 2:
        return ""
    start = set(_WORD.findall(text[:PRINTED_CHARS].lower()))
    printed = sum(word in start for word in words)
    return _title(title) if printed >= PRINTED_SHARE * len(words) else ""


def _title(text: str) -> str:
    title = " ".join(text.split())
    return title if len(title) <= TITLE_MAX_CHARS else ""
