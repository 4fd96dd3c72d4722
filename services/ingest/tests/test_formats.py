"""Every document format becomes text with its headings; files written by the test."""

from __future__ import annotations

import io
from email.message import EmailMessage

import docx
import pytest
from ingest_service.extraction.extract import DocumentError
from ingest_service.extraction.formats import TITLE_MAX_CHARS, document_text, document_title
from ingest_service.extraction.markup import MAX_PARTS, SHOWN_HEADER_CHARS
from pptx import Presentation
from pptx.util import Inches

from services.ingest.tests.corpus import encrypted_pdf as encrypted
from services.ingest.tests.corpus import pdf_bytes

pytestmark = pytest.mark.unit


def docx_bytes() -> bytes:
    document = docx.Document()
    document.add_heading("Field guide", level=0)
    document.add_heading("Volcanoes", level=1)
    document.add_paragraph("Magma rises through the crust.")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([["Name", "Height"], ["Etna", "3357 m"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_heading("Glaciers", level=2)
    document.add_paragraph("Ice flows slowly downhill.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx_bytes() -> bytes:
    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    assert slide.shapes.title is not None
    slide.shapes.title.text = "Quarterly results"
    slide.placeholders[1].text_frame.text = "Revenue grew by a tenth."
    box = slide.shapes.add_textbox(Inches(1), Inches(5), Inches(4), Inches(1))
    box.text_frame.text = "Footnote: unaudited."
    slide.notes_slide.notes_text_frame.text = "Mention the new office."
    blank = deck.slides.add_slide(deck.slide_layouts[6])
    blank.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1)).text_frame.text = "Q&A"
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def test_pdf_pages_become_text() -> None:
    text = document_text("a.pdf", pdf_bytes("Page one is about tides.", "Page two: orbits."))
    assert text == "Page one is about tides.\n\nPage two: orbits."


def test_a_pdf_encrypted_with_an_owner_password_only_is_read() -> None:
    data = encrypted(pdf_bytes("Readable without a password."), user_password="")
    assert document_text("a.pdf", data) == "Readable without a password."


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (lambda: encrypted(pdf_bytes("Secret."), "s3cret"), "encrypted PDF: it needs a password"),
        (lambda: pdf_bytes("x")[:200], "corrupt PDF"),
        (lambda: b"%PDF-1.4\n" + b"\x00garbage" * 50, "corrupt PDF"),
        (lambda: pdf_bytes(""), "the PDF has no text"),
    ],
)
def test_bad_pdfs_fail_with_a_reason(data: object, reason: str) -> None:
    with pytest.raises(DocumentError) as caught:
        document_text("a.pdf", data())  # type: ignore[operator]
    assert caught.value.reason.startswith(reason)


def test_docx_headings_paragraphs_and_tables() -> None:
    assert document_text("a.docx", docx_bytes()) == (
        "# Field guide\n\n# Volcanoes\n\nMagma rises through the crust.\n\n"
        "Name | Height\n\nEtna | 3357 m\n\n## Glaciers\n\nIce flows slowly downhill."
    )


def test_pptx_slides_titles_text_and_notes() -> None:
    assert document_text("a.pptx", pptx_bytes()) == (
        "# Slide 1: Quarterly results\n\nRevenue grew by a tenth.\n\nFootnote: unaudited."
        "\n\nNotes: Mention the new office.\n\n# Slide 2\n\nQ&A"
    )


@pytest.mark.parametrize("name", ["a.docx", "a.pptx"])
def test_corrupt_office_files_fail_with_a_reason(name: str) -> None:
    with pytest.raises(DocumentError, match="corrupt"):
        document_text(name, b"PK\x03\x04 not really a zip")


def test_html_keeps_headings_and_drops_scripts() -> None:
    page = (
        "<html><head><title>Trail notes</title><style>p{color:red}</style></head><body>"
        "<nav>Home</nav><h1>Trail notes</h1><p>The path climbs&nbsp;steeply.</p>"
        "<script>var x = 1;</script><h2>Water</h2><ul><li>Spring at km 3</li>"
        "<li>Lake at km 9</li></ul><table><tr><td>a</td><td>b</td></tr></table></body></html>"
    )
    assert document_text("a.html", page.encode()) == (
        "Home\n\n# Trail notes\n\nThe path climbs\xa0steeply.\n\n## Water\n\n"
        "Spring at km 3\nLake at km 9\n\na | b"
    )


def test_html_title_is_its_first_heading_when_the_body_has_none() -> None:
    page = b"<title>Only a title</title><p>Body text.</p>"
    assert document_text("a.htm", page) == "# Only a title\n\nBody text."


def test_a_page_of_non_breaking_spaces_is_read_in_linear_time() -> None:
    # The cell pattern before retried every start of such a run: 20,000 took 1.1 s,
    # these 300,000 would take minutes, a megabyte of them hours.
    page = "<p>a" + "&nbsp;" * 300_000 + "b</p><table><tr><td>x\u00a0</td><td>y</td></tr>"
    assert document_text("a.html", page.encode()) == "a" + "\xa0" * 300_000 + "b\n\nx | y"


def test_html_is_read_as_a_browser_reads_broken_markup() -> None:
    page = (
        "<!-- <b>a comment</b> --><!--[if IE]><p>old browsers</p><![endif]-->"
        "<p>one<p>two<div>three</div>four<script>if (a<b) document.write('<p>no')</script>"
        "<p>&bogus; &#x1F600; &#0;</p>"
    )
    assert document_text("a.html", page.encode()) == (
        "one\n\ntwo\n\nthree\nfour\n\n&bogus; \U0001f600 \ufffd"
    )


@pytest.mark.parametrize("unclosed", ["<a", "<!--", "</", "<![CDATA[", "<?"])
def test_unclosed_markup_is_read_in_linear_time(unclosed: str) -> None:
    # html.parser (CPython 3.11.7) rescanned the rest of the page at each of these:
    # 20,000 '<a' took 3.4 s, these 200,000 would take minutes.
    with pytest.raises(DocumentError, match="empty document"):
        document_text("a.html", (unclosed * 200_000).encode())


def test_eml_headers_and_plain_body() -> None:
    message = EmailMessage()
    message["Subject"] = "Meeting moved"
    message["From"] = "ana@example.org"
    message["To"] = "team@example.org"
    message.set_content("The meeting is on Thursday now.\nBring the report.")
    message.add_alternative("<p>The meeting is on <b>Thursday</b> now.</p>", subtype="html")
    message.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="r.pdf")
    assert document_text("a.eml", message.as_bytes()) == (
        "# Meeting moved\n\nFrom: ana@example.org\nTo: team@example.org\n"
        "Attachments: r.pdf\n\nThe meeting is on Thursday now.\nBring the report."
    )


def test_eml_with_only_html_and_a_latin_1_body() -> None:
    message = EmailMessage()
    message["Subject"] = "Grüße"
    message.set_content("<h1>Café</h1><p>Crème brûlée</p>", subtype="html", charset="latin-1")
    assert document_text("a.eml", message.as_bytes()) == ("# Grüße\n\n\n# Café\n\nCrème brûlée")


def test_eml_headers_are_shown_decoded_and_unfolded() -> None:
    data = (
        b"Subject: Re: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n =?utf-8?q?_mehr?= und caf\xc3\xa9\r\n"
        b"From: =?iso-8859-1?q?Ren=E9?= <r@example.org>\r\nTo: a@example.org,\r\n  b@example.org"
        b"\r\nCc: =?x-unknown?q?Z=C3=A9?= <z@example.org>\r\n"
        b"Date: =?utf-8?q?Mon?= from C:\\users\\bob\r\n\r\nHello."
    )
    assert document_text("a.eml", data) == (
        "# Re: Grüße mehr und café\n\nFrom: René <r@example.org>\n"
        "To: a@example.org, b@example.org\nCc: Zé <z@example.org>\n"
        "Date: Mon from C:\\users\\bob\n\nHello."
    )


def test_eml_headers_the_parser_would_take_hours_over_are_cut() -> None:
    # CPython's header parser is quadratic on these: 8,000 '"a' in a From took 5.2 s,
    # 20,000 ';' in a Content-Type 5.5 s; 200,000 of each took minutes.
    data = (
        b"Subject: Long\r\nFrom: " + b'"a' * 200_000 + b"\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8" + b";" * 200_000 + b"\r\n\r\nThe body."
    )
    text = document_text("a.eml", data)
    assert text.startswith("# Long\n\nFrom: " + '"a' * 100) and text.endswith("\n\nThe body.")
    assert len(text.split("\n")[2]) == len("From: ") + SHOWN_HEADER_CHARS


def test_an_eml_of_too_many_parts_fails_with_a_reason() -> None:
    parts = b"".join(b"--XX\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(MAX_PARTS))
    data = b"Subject: s\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" + parts + b"--XX--"
    with pytest.raises(DocumentError, match=f"more than {MAX_PARTS} MIME parts"):
        document_text("a.eml", data)


def test_not_an_email_fails() -> None:
    with pytest.raises(DocumentError, match="not an e-mail"):
        document_text("a.eml", b"just some words without any header line")


def title_of(name: str, data: bytes) -> str:
    return document_title(name, document_text(name, data), data)


def test_a_files_title_is_its_first_level_one_heading_whatever_its_format() -> None:
    page = b"<html><title>Trail notes</title><nav>Home</nav><h1>Trail notes</h1><p>Go.</p>"
    assert title_of("a.html", page) == "Trail notes"  # after the page's navigation
    assert title_of("a.htm", b"<title>Only a title</title><p>Body text.</p>") == "Only a title"
    assert title_of("a.docx", docx_bytes()) == "Field guide"
    assert title_of("a.pptx", pptx_bytes()) == "Quarterly results"
    message = EmailMessage()
    message["Subject"] = "Meeting moved"
    message.set_content("On Thursday now.")
    assert title_of("a.eml", message.as_bytes()) == "Meeting moved"
    assert title_of("a.md", b"\n#   Field  guide ##\n\nText.") == "Field guide"
    assert title_of("a.pdf", pdf_bytes("# Not a title", "Page two.")) == ""


def test_a_pdfs_title_is_its_metadata_title_where_its_first_page_prints_it() -> None:
    printed = pdf_bytes("VOLCANOES OF ICELAND\n\nMagma rises.", title="Volcanoes of  Iceland")
    assert title_of("a.pdf", printed) == "Volcanoes of Iceland"
    assert title_of("a.pdf", pdf_bytes("Volcanoes.", title="Microsoft Word - draft3.docx")) == ""
    first_page = "Lava cools into basalt. " * 90  # over PRINTED_CHARS
    later = pdf_bytes(first_page, "Volcanoes of Iceland", title="Volcanoes of Iceland")
    assert title_of("a.pdf", later) == ""  # printed, but not where a title is
    assert title_of("a.pdf", pdf_bytes("Volcanoes erupt.", title="Volcanoes")) == ""  # one word
    assert title_of("a.pdf", pdf_bytes("Volcanoes of Iceland")) == ""  # no title field
    assert document_title("a.pdf", "Volcanoes of Iceland", b"%PDF-1.4 damaged") == ""


@pytest.mark.parametrize(
    ("name", "text", "title"),
    [
        ("a.md", '---\nauthor: Ana\ntitle: "Trail notes"\n---\n# Other\n', "Trail notes"),
        ("a.md", "---\nauthor: Ana\n---\n# Trail notes\n\nText.", "Trail notes"),
        ("a.md", "Trail notes\n===\n\nText.", "Trail notes"),
        ("a.md", "Trail notes\n-----------\n\nText.", ""),  # a level-2 heading
        ("a.md", "## Trail notes\n\nText.", ""),
        ("a.md", "#hashtag and more text", ""),
        ("a.md", "a\n\nb\n\nc\n\nd\n\ne\n\n# Too far down", ""),
        ("a.md", "a\nb\nc\nd\n\n# The fifth line", "The fifth line"),
        ("a.md", "=====\n", ""),
        ("a.rst", "=====\nGuide\n=====\n\nText.", "Guide"),
        ("a.rst", "Guide\n~~~~~\n\nText.", "Guide"),
        ("a.rst", "Guide book\n~~~\n\nText.", ""),  # too short an underline
        ("a.txt", "# Looks like a heading\n\nText.", ""),
        ("a.pptx", "# Slide 1\n\nQ&A", ""),
        ("a.md", "# " + "word " * TITLE_MAX_CHARS, ""),
        ("a.md", "", ""),
        # Lines a pattern would backtrack over for hours are not read (none is a title).
        ("a.md", "# a" + " " * 100_000 + "x", ""),
        ("a.md", "---\ntitle: a" + " " * 10_000 + "b\n---\n# Body", "Body"),
        ("a.rst", "Guide" + " " * 100_000 + "x\n=====", ""),
    ],
)
def test_what_counts_as_a_title(name: str, text: str, title: str) -> None:
    assert document_title(name, text) == title
