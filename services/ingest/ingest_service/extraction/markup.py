"""HTML and e-mail (eml) as text, headings kept as Markdown headings for the chunker.

HTML goes through libxml2's HTML parser (``lxml``, already there for python-docx) as a
stream of events: since 2.14 it tokenizes as HTML5 does, so it is as lenient with
broken markup as a browser, and it is linear where the standard library's
``html.parser`` (CPython 3.11.7) is quadratic on unclosed constructs: 20,000 ``<a``
took 3.4 s there, 200,000 ``<!--`` would take minutes, and 0.002-0.015 s here. The
standard library's ``email`` (policy ``default``, headers bounded: ``_BoundedHeaders``)
decodes MIME parts, transfer encodings and charsets.
"""

from __future__ import annotations

import re
from email import message_from_bytes
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from itertools import islice
from typing import Any

from lxml import etree

from .extract import DocumentError, decode

_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCK_TAGS = (
    "p div section article header footer main aside nav li ul ol table tr blockquote pre "
    "dl dt dd figure figcaption form fieldset address hr br"
)
_BLOCKS = frozenset(_BLOCK_TAGS.split())
_HIDDEN = frozenset({"script", "style", "noscript", "template", "head", "svg"})
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*")
#: A cell break: a tab and the white space after it. Not ``\s*\t\s*``, which also takes
#: the space before it but retries every start of a run of spaces without a tab, so
#: a page of 20,000 ``&nbsp;`` took 1.1 s (quadratic; a megabyte of them, hours).
_CELL_BREAK = re.compile(r"\t\s*")


class _TextOfHtml:
    """The target of ``etree.HTMLParser``'s events: the visible text and the title."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.title: list[str] = []
        self.hidden = 0
        self.in_title = False

    def start(self, tag: str, attrib: object) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "title":
            self.in_title = True
        elif tag in _HEADINGS:
            self.parts.append("\n\n" + "#" * _HEADINGS[tag] + " ")
        elif tag in _BLOCKS:
            self.parts.append("\n\n" if tag == "p" else "\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")  # between cells: " | " once the line is trimmed

    def end(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag == "title":
            self.in_title = False
        elif tag in _HEADINGS or tag == "p":
            self.parts.append("\n\n")
        elif tag in _BLOCKS and tag not in ("li", "tr"):  # items of a list stay together
            self.parts.append("\n")

    def data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.hidden:
            self.parts.append(_SPACES.sub(" ", data.replace("\n", " ")))

    def comment(self, text: str) -> None:
        """Comments are not text."""

    def close(self) -> None:
        """The parser's result: nothing, the text is in ``parts`` and ``title``."""


def html_text(markup: str) -> str:
    """The visible text of an HTML page; its title first, as a heading."""
    page = _TextOfHtml()
    parser = etree.HTMLParser(target=page, encoding="utf-8", no_network=True)
    # Bytes, so that a lone surrogate (which no decoder here makes) cannot stop it.
    parser.feed(markup.encode("utf-8", "replace"))
    parser.close()
    body = "".join(page.parts)
    lines = (_cells(line.strip()) for line in body.split("\n"))
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    title = " ".join("".join(page.title).split())
    if title and f"# {title}\n" not in f"{text}\n":
        text = f"# {title}\n\n{text}"
    return text


def _cells(line: str) -> str:
    """A line's cells joined by `` | ``: each run of white space with a tab in it is one
    break (the space before its first tab trimmed from the cell before)."""
    return " | ".join(cell.rstrip() for cell in _CELL_BREAK.split(line))


#: How much of a header's value the standard library parses for its structure (a
#: Content-Type's parameters, an address list), and how much of a shown header
#: (subject, correspondents, date) is kept: see ``_BoundedHeaders``.
PARSED_HEADER_CHARS = 1_000
SHOWN_HEADER_CHARS = 16_384
#: An e-mail with more MIME parts than this is not read (``eml_text``).
MAX_PARTS = 1_000


class _BoundedHeaders(EmailPolicy):
    """``email.policy.default``, but a header's value is cut to ``PARSED_HEADER_CHARS``
    before the standard library parses its structure. That parser is quadratic in a
    header's length on some input, and it reads Content-Type while it splits the
    message: a Content-Type of 20,000 ``;`` took 5.5 s, a From of 8,000 ``"a`` 5.2 s
    (CPython 3.11). The headers shown are read from their raw values (``_shown``)."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if isinstance(value, str) and len(value) > PARSED_HEADER_CHARS:
            value = value[:PARSED_HEADER_CHARS]
        return super().header_fetch_parse(name, value)


_POLICY = _BoundedHeaders()


def eml_text(data: bytes) -> str:
    """An e-mail's subject, correspondents, date and body (plain text, else HTML)."""
    message = message_from_bytes(data, policy=_POLICY)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise DocumentError("not an e-mail message (no headers)")
    if sum(1 for _ in islice(message.walk(), MAX_PARTS + 1)) > MAX_PARTS:
        raise DocumentError(f"an e-mail of more than {MAX_PARTS} MIME parts is not read")
    lines = [f"# {_shown(message, 'subject') or '(no subject)'}", ""]
    for header in ("from", "to", "cc", "date"):
        if shown := _shown(message, header):
            lines.append(f"{header.capitalize()}: {shown}")
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if isinstance(body, EmailMessage):
        content = body.get_payload(decode=True)
        if isinstance(content, bytes):
            charset = body.get_content_charset()
            try:
                text = content.decode(charset) if charset else decode(content)[0]
            except (LookupError, UnicodeDecodeError):
                text = decode(content)[0]
            if body.get_content_subtype() == "html":
                text = html_text(text)
    attachments = [part.get_filename() for part in message.iter_attachments()]
    named = [name for name in attachments if name]
    if named:
        lines.append(f"Attachments: {', '.join(named)}")
    return "\n".join(lines) + "\n\n" + text.strip()


def _shown(message: EmailMessage, name: str) -> str:
    """Header ``name``'s first value as a person reads it: unfolded, its encoded words
    (RFC 2047) decoded, raw UTF-8 read as such, at most ``SHOWN_HEADER_CHARS``; ``""``
    if the message has none. Read as unstructured text (``_SHOWN``), whose parser is
    linear: 16,000 characters of the shapes that made the address parser quadratic
    took at most 0.02 s."""
    for key, raw in message.raw_items():
        if key.lower() != name:
            continue
        value = " ".join(str(raw)[:SHOWN_HEADER_CHARS].split())
        # Raw 8-bit bytes come as surrogate escapes; UTF-8 is what they nearly always are.
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return str(_SHOWN(name, value))
    return ""


#: Every header as unstructured text (no address or date parsing): what ``_shown`` shows.
_SHOWN = HeaderRegistry(use_default_map=False)
