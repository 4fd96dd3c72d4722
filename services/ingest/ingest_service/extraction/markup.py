"""HTML and e-mail (eml) as text, headings kept as Markdown headings for the chunker.

The standard library reads both: ``html.parser`` is lenient with broken markup and
``email`` (policy ``default``) decodes MIME parts, transfer encodings and charsets.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser

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


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self.hidden = 0
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag == "title":
            self.in_title = False
        elif tag in _HEADINGS or tag == "p":
            self.parts.append("\n\n")
        elif tag in _BLOCKS and tag not in ("li", "tr"):  # items of a list stay together
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.hidden:
            self.parts.append(_SPACES.sub(" ", data.replace("\n", " ")))


def html_text(markup: str) -> str:
    """The visible text of an HTML page; its title first, as a heading."""
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    body = "".join(parser.parts)
    lines = (_cells(line.strip()) for line in body.split("\n"))
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    title = " ".join("".join(parser.title).split())
    if title and f"# {title}\n" not in f"{text}\n":
        text = f"# {title}\n\n{text}"
    return text


def _cells(line: str) -> str:
    """A line's cells joined by `` | ``: each run of white space with a tab in it is one
    break (the space before its first tab trimmed from the cell before)."""
    return " | ".join(cell.rstrip() for cell in _CELL_BREAK.split(line))


def eml_text(data: bytes) -> str:
    """An e-mail's subject, correspondents, date and body (plain text, else HTML)."""
    message = message_from_bytes(data, policy=policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise DocumentError("not an e-mail message (no headers)")
    lines = [f"# {message.get('subject', '(no subject)')}", ""]
    for header in ("from", "to", "cc", "date"):
        if message.get(header):
            lines.append(f"{header.capitalize()}: {message.get(header)}")
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
