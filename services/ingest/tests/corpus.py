"""Test corpora written by the tests themselves: good documents of every format, and bad
input of every kind a user's folder holds (nothing is downloaded)."""

from __future__ import annotations

import io
import json
import os
import zipfile
from email.message import EmailMessage
from pathlib import Path

import docx
from fpdf import FPDF
from pptx import Presentation
from pypdf import PdfReader, PdfWriter


def pdf_bytes(*pages: str, title: str = "") -> bytes:
    """A PDF of ``pages``, with ``title`` in its document information if given."""
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


def encrypted_pdf(data: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(title: str, body: str) -> bytes:
    document = docx.Document()
    document.add_heading(title, level=1)
    document.add_paragraph(body)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx_bytes(title: str, body: str) -> bytes:
    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    assert slide.shapes.title is not None
    slide.shapes.title.text = title
    slide.placeholders[1].text_frame.text = body
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def eml_bytes(subject: str, body: str) -> bytes:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "ops@example.org"
    message.set_content(body)
    return message.as_bytes()


def zip_bomb() -> bytes:
    """An xlsx-shaped zip whose sheet expands a thousandfold."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (20 * 1024 * 1024))
    return buffer.getvalue()


#: One good document per format: name → (bytes, a phrase its text contains).
def good_documents() -> dict[str, tuple[bytes, str]]:
    return {
        "volcano.md": (b"# Volcanoes\n\nMagma rises through the crust.\n", "Magma rises"),
        "bread.txt": (b"Sourdough bread needs a starter.\n", "Sourdough"),
        "trail.html": (
            b"<html><title>Trail</title><body><h1>Trail</h1><p>The path climbs.</p></body>",
            "The path climbs",
        ),
        "tides.pdf": (pdf_bytes("Tides follow the moon."), "Tides follow the moon"),
        "glacier.docx": (docx_bytes("Glaciers", "Ice flows downhill."), "Ice flows downhill"),
        "results.pptx": (pptx_bytes("Results", "Revenue grew."), "Revenue grew"),
        "meeting.eml": (eml_bytes("Meeting", "Moved to Thursday."), "Moved to Thursday"),
    }


def write_bad_corpus(folder: Path, max_bytes: int) -> dict[str, str]:
    """Write the bad-input corpus; return file name → the start of its failure reason."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corrupt.pdf").write_bytes(pdf_bytes("cut off")[:300])
    (folder / "encrypted.pdf").write_bytes(encrypted_pdf(pdf_bytes("secret"), "s3cret"))
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 16)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "bomb.xlsx").write_bytes(zip_bomb())
    wide = ",".join(f"c{i}" for i in range(10_000)) + "\n" + ",".join("1" * 10_000) + "\n"
    (folder / "wide.csv").write_text(wide)
    (folder / "too-large.txt").write_bytes(b"word " * (max_bytes // 5 + 1))
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 this zip ends here")
    (folder / "broken.jsonl").write_text('{"a": 1}\n{"a": \n')
    expected = {
        "corrupt.pdf": "corrupt PDF",
        "encrypted.pdf": "encrypted PDF: it needs a password to be read",
        "binary.txt": "binary file",
        "empty.txt": "empty document",
        "bomb.xlsx": "refused: the file expands to",
        "wide.csv": "too many columns (10000; the limit is 1000)",
        "too-large.txt": "file too large",
        "broken.docx": "corrupt file (not a valid Office zip archive)",
        "broken.jsonl": "line 2 is not valid JSON",
    }
    if os.geteuid() != 0:  # permission bits do not stop root
        unreadable = folder / "unreadable.txt"
        unreadable.write_text("you cannot read me")
        unreadable.chmod(0)
        expected["unreadable.txt"] = "cannot open: Permission denied"
    return expected


def write_tolerated(folder: Path, max_bytes: int) -> dict[str, str]:
    """Odd but valid input that must be indexed: name → a phrase of its text."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "latin1.txt").write_bytes("Grüße aus München: Straße und Café.".encode("latin-1"))
    words = " ".join(f"token{n}" for n in range(max_bytes // 100))
    (folder / "one-huge-line.txt").write_text(words)
    (folder / "rows.json").write_text(json.dumps([{"q": "Why?", "a": "Because."}]))
    return {
        "latin1.txt": "Grüße aus München",
        "one-huge-line.txt": "token0 token1",
        "rows.json": "q: Why?\na: Because.",
    }
