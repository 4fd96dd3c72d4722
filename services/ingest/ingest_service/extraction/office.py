"""PDF, Word (docx) and PowerPoint (pptx) as text, with their structure as headings.

``pypdf`` (pure Python, actively maintained, no system libraries) reads PDFs and tells
encrypted ones apart; ``python-docx`` and ``python-pptx`` read the Office formats with
their heading styles and slide titles. An Office file is a zip: it is checked for a
zip bomb before either library opens it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

from .extract import DocumentError
from .tables import check_archive

# pypdf logs every recoverable oddity of a PDF as a warning; its result is what counts.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("encrypted PDF: it needs a password to be read")
        pages = [page.extract_text() or "" for page in reader.pages]
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DocumentError(f"corrupt PDF: {str(exc)[:200] or type(exc).__name__}") from None
    except Exception as exc:
        if "decrypt" in str(exc).lower() or "crypt" in type(exc).__name__.lower():
            raise DocumentError("encrypted PDF: it cannot be decrypted") from None
        raise DocumentError(f"corrupt PDF: {str(exc)[:200] or type(exc).__name__}") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise DocumentError("the PDF has no text (scanned images are not read)")
    return text


def pdf_title(data: bytes) -> str:
    """The title in a PDF's document information, or ``""`` (none, or unreadable: the
    title is optional, and ``pdf_text`` is what fails a PDF that cannot be read)."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return ""
        info = reader.metadata
        return str(info.title or "") if info is not None else ""
    except Exception:  # pypdf raises many kinds on a damaged trailer
        return ""


def docx_text(data: bytes) -> str:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_archive(data)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise DocumentError(f"corrupt Word document: {str(exc)[:200]}") from None
    blocks: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            text = block.text.strip()
            if text:
                blocks.append(_heading(block.style.name if block.style else "") + text)
        elif isinstance(block, Table):
            blocks.extend(_rows(block))
    return "\n\n".join(blocks)


def _heading(style: str) -> str:
    """``## `` for the style "Heading 2", ``# `` for "Title"; nothing for body text."""
    if style == "Title":
        return "# "
    if style.startswith("Heading "):
        level = style.removeprefix("Heading ")
        if level.isdigit():
            return "#" * min(int(level), 6) + " "
    return ""


def _rows(table: object) -> Iterator[str]:
    for row in table.rows:  # type: ignore[attr-defined]
        cells = [cell.text.strip() for cell in row.cells]
        if any(cells):
            yield " | ".join(dict.fromkeys(cells))  # merged cells repeat themselves


def pptx_text(data: bytes) -> str:
    from pptx import Presentation

    check_archive(data)
    try:
        deck = Presentation(io.BytesIO(data))
    except Exception as exc:
        raise DocumentError(f"corrupt PowerPoint file: {str(exc)[:200]}") from None
    slides: list[str] = []
    for number, slide in enumerate(deck.slides, start=1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None else ""
        title_id = title_shape.shape_id if title_shape is not None else None
        parts = [f"# Slide {number}" + (f": {title}" if title else "")]
        for shape in slide.shapes:
            if shape.shape_id == title_id:
                continue
            if shape.has_text_frame and shape.text_frame.text.strip():
                parts.append(shape.text_frame.text.strip())
            if getattr(shape, "has_table", False):
                parts.extend(_rows(shape.table))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                parts.append(f"Notes: {notes}")
        slides.append("\n\n".join(parts))
    return "\n\n".join(slides)
