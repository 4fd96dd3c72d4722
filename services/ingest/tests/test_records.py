"""Record files as tables, and their rows as records (files written by the test)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlwt
from ingest_service.extraction.extract import DocumentError
from ingest_service.extraction.records import ColumnSelection, Record, RecordFailure, row_records
from ingest_service.extraction.tables import MAX_COLUMNS, read_columns, read_table
from ingest_service.extraction.units import read_record_file

pytestmark = pytest.mark.unit

ROWS = [
    {"id": "d1", "title": "Volcanoes", "text": "Magma rises through the crust.", "topic": "geo"},
    {"id": "d2", "title": "Bread", "text": "Sourdough needs a starter.", "topic": "food"},
]


def write_xlsx(path: Path, grid: list[list[Any]], sheet: str = "Sheet1") -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    for row in grid:
        ws.append(row)
    book.save(path)
    return path


def write_xls(path: Path, grid: list[list[Any]]) -> Path:
    book = xlwt.Workbook()
    ws = book.add_sheet("Data")
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            ws.write(r, c, value)
    book.save(str(path))
    return path


def grid() -> list[list[Any]]:
    return [["id", "title", "text", "topic"], *[list(r.values()) for r in ROWS]]


@pytest.mark.parametrize("ext", ["csv", "tsv", "jsonl", "json", "parquet", "xlsx", "xls"])
def test_every_record_format_reads_the_same_table(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"data.{ext}"
    if ext in ("csv", "tsv"):
        sep = "," if ext == "csv" else "\t"
        path.write_text("\n".join(sep.join(map(str, row)) for row in grid()) + "\n")
    elif ext == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif ext == "json":
        path.write_text(json.dumps(ROWS))
    elif ext == "parquet":
        pq.write_table(pa.Table.from_pylist(ROWS), path)
    elif ext == "xlsx":
        write_xlsx(path, grid())
    else:
        write_xls(path, grid())
    table = read_table(str(path), path.read_bytes())
    assert table.columns == ["id", "title", "text", "topic"]
    assert [values for _, values in table.rows] == ROWS

    selection = ColumnSelection(("title", "text"), ("topic",), "id")
    records = list(row_records(table, selection))
    assert all(isinstance(r, Record) for r in records)
    first = records[0]
    assert isinstance(first, Record)
    assert (first.key, first.record_id, first.context) == ("d1", "d1", {"topic": "geo"})
    assert first.text == "Volcanoes\n\nMagma rises through the crust."


def test_blank_and_repeated_headers_are_skipped(tmp_path: Path) -> None:
    data = b"name,,name,  ,note\nAda,x,Lovelace,y,first programmer\n"
    table = read_table("people.csv", data)
    assert table.columns == ["name", "note"]
    assert table.rows == [("row 2", {"name": "Ada", "note": "first programmer"})]
    assert table.notes == [
        "column 2 has no header and was skipped",
        "column 3 repeats the header 'name' and was skipped",
        "column 4 has no header and was skipped",
    ]
    header = ["name", None, "name", "note"]
    path = write_xlsx(tmp_path / "people.xlsx", [header, ["Ada", 1, 2, "n"]])
    assert read_table(str(path), path.read_bytes()).columns == ["name", "note"]


def test_rows_without_a_column_choice_embed_every_column_by_name() -> None:
    table = read_table("t.csv", b"sku,name,price\n7,Hammer,12.5\n8,Saw,20\n")
    records = list(row_records(table, ColumnSelection(id_column="sku")))
    assert [r.text for r in records if isinstance(r, Record)] == [
        "name: Hammer\nprice: 12.5",
        "name: Saw\nprice: 20",
    ]


def test_the_first_of_several_chosen_text_columns_is_the_records_title() -> None:
    table = read_table("t.csv", b"id,title,text\n1,Aspirin,Thins blood.\n2,,Only text.\n3,Alone,\n")
    records = [r for r in row_records(table, ColumnSelection(("title", "text"), (), "id"))]
    assert [(r.text, r.title) for r in records if isinstance(r, Record)] == [
        ("Aspirin\n\nThins blood.", "Aspirin"),
        ("Only text.", ""),  # no title in its row
        ("Alone", ""),  # the title is all there is: nothing for it to head
    ]
    one_column = row_records(table, ColumnSelection(("text",), (), "id"))
    assert all(r.title == "" for r in one_column if isinstance(r, Record))
    # Without a choice every column is embedded by name, and none is taken for a title.
    labelled = row_records(table, ColumnSelection(id_column="id"))
    assert all(r.title == "" for r in labelled if isinstance(r, Record))


def test_record_hash_covers_exactly_what_is_indexed() -> None:
    table = read_table("t.csv", b"id,title,text,topic\n1,A,alpha,x\n2,A,alpha,x\n")
    both = ColumnSelection(("title", "text"), ("topic",), "id")
    one, two = (r for r in row_records(table, both) if isinstance(r, Record))
    assert one.sha256 != two.sha256  # the same text under two ids: two records
    again = next(r for r in row_records(table, both) if isinstance(r, Record))
    assert again.sha256 == one.sha256  # stable
    text_only = ColumnSelection(("text",), ("topic",), "id")
    changed = next(r for r in row_records(table, text_only) if isinstance(r, Record))
    assert changed.sha256 != one.sha256  # other columns embedded: a new document
    no_id = list(row_records(table, ColumnSelection(("title", "text"))))
    assert all(isinstance(r, Record) for r in no_id)
    assert [r.key for r in no_id] == ["row 2", "row 3"]
    assert no_id[0].sha256 == no_id[1].sha256  # type: ignore[union-attr]  # equal rows without ids are duplicates


def test_bad_rows_fail_alone_and_blank_rows_are_ignored() -> None:
    data = b"id,text\n1,one\n,no id\n1,again\n3,\n,\n4,four\n"
    results = list(row_records(read_table("t.csv", data), ColumnSelection(("text",), (), "id")))
    assert [(r.key, r.text) for r in results if isinstance(r, Record)] == [
        ("1", "one"),
        ("4", "four"),
    ]
    assert [r.reason for r in results if isinstance(r, RecordFailure)] == [
        "row 3: the id column is empty",
        "row 4: the id '1' repeats row 2",
        "row 5: no text in the columns text",
    ]


def test_a_column_that_is_not_there_fails_the_file_with_the_columns_named() -> None:
    table = read_table("t.csv", b"title,body\nA,b\n")
    with pytest.raises(DocumentError, match=r"'text' not found; the columns are: title, body"):
        list(row_records(table, ColumnSelection(("title", "text"))))


def test_bad_tables_fail_with_a_reason(tmp_path: Path) -> None:
    wide = ",".join(f"c{i}" for i in range(10_000)).encode() + b"\n" + b"1," * 9999 + b"1\n"
    too_wide = f"too many columns \\(10000; the limit is {MAX_COLUMNS}\\)"
    with pytest.raises(DocumentError, match=too_wide):
        read_table("wide.csv", wide)
    with pytest.raises(DocumentError, match="line 2 is not valid JSON"):
        read_table("x.jsonl", b'{"a": 1}\n{"a": \n')
    with pytest.raises(DocumentError, match="cannot read the parquet file"):
        read_table("x.parquet", b"PAR1 this is not parquet")
    with pytest.raises(DocumentError, match="not a valid Office zip archive"):
        read_table("x.xlsx", b"PK\x03\x04 truncated")
    with pytest.raises(DocumentError, match="cannot read the xls file"):
        read_table("x.xls", b"\xd0\xcf\x11\xe0 not really")


def test_an_xlsx_zip_bomb_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (20 * 1024 * 1024))
    with pytest.raises(DocumentError, match="zip bomb"):
        read_table("bomb.xlsx", buffer.getvalue())


def test_a_record_file_becomes_units_named_by_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    lines = [
        {"_id": "a", "title": "T", "text": "x"},
        {"_id": "b", "title": "", "text": ""},
        {"_id": "c", "title": "", "text": "z"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    selection = ColumnSelection(("title", "text"), (), "_id")
    read = read_record_file(str(path), str(path), selection, 1 << 20)
    assert [(u.path, u.text, u.payload, u.title) for u in read.units] == [
        (f"{path}#a", "T\n\nx", {"file": str(path), "row": "line 1", "record_id": "a"}, "T"),
        (f"{path}#c", "z", {"file": str(path), "row": "line 3", "record_id": "c"}, ""),
    ]
    assert read.failures == [(f"{path}#b", "line 2: no text in the columns title, text")]


def test_a_large_csvs_columns_come_from_its_first_lines() -> None:
    rows = b"".join(b"%d,some text of row %d,\xc3\xa9t\xc3\xa9\n" % (n, n) for n in range(100_000))
    data = b"id,text,season\n" + rows
    assert len(data) > 3 << 20
    assert read_columns("big.csv", data) == ["id", "text", "season"]
    assert read_columns("big.csv", b"only a header\n") == ["only a header"]


def test_record_batches_start_small_and_grow_to_the_register_batch() -> None:
    from itertools import pairwise

    from ingest_service.indexing.record_files import REGISTER_BATCH, batch_spans

    spans = list(batch_spans(2000))
    assert [end - start for start, end in spans] == [32, 64, 128, 256, 500, 500, 500, 20]
    assert spans[0][0] == 0 and spans[-1][1] == 2000
    assert all(a[1] == b[0] for a, b in pairwise(spans))
    assert max(end - start for start, end in spans) == REGISTER_BATCH
    assert list(batch_spans(0)) == [] and list(batch_spans(5)) == [(0, 5)]
