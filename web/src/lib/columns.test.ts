import { describe, expect, it } from "vitest";
import { columnsOf, extension, isRecordFile, readColumns, splitLine } from "./columns";

describe("columns of a record file", () => {
  it("reads a CSV header with quotes, skipping blank and repeated headers", () => {
    const head = '\uFEFFticket_id,"title, short",,body,body\r\n1,"a, b",,c,d\r\n';
    expect(columnsOf("t.csv", head)).toEqual(["ticket_id", "title, short", "body"]);
  });
  it("reads TSV and semicolon-separated CSV", () => {
    expect(columnsOf("t.tsv", "a\tb\tc\n1\t2\t3")).toEqual(["a", "b", "c"]);
    expect(columnsOf("t.csv", "a;b;c\n1;2;3")).toEqual(["a", "b", "c"]);
  });
  it("reads the keys of the first JSON Lines object and of a JSON array's first record", () => {
    expect(columnsOf("r.jsonl", '\n{"id": 1, "text": "x"}\n{"id": 2}')).toEqual(["id", "text"]);
    expect(columnsOf("r.json", '[{"id": 1, "note": "a } in a string", "x": {"y": 1}}, {"id": 2}]')).toEqual([
      "id",
      "note",
      "x",
    ]);
  });
  it("finds nothing in what it cannot read", () => {
    expect(columnsOf("r.jsonl", "[1, 2]")).toEqual([]);
    expect(columnsOf("r.json", '{"cut": ')).toEqual([]);
    expect(columnsOf("r.csv", "")).toEqual([]);
    expect(columnsOf("r.parquet", "PAR1")).toEqual([]);
  });
  it("splits quoted cells with escaped quotes", () => {
    expect(splitLine('a,"b ""c""",d', ",")).toEqual(["a", 'b "c"', "d"]);
  });
  it("knows record files by extension", () => {
    expect(extension("A.XLSX")).toBe("xlsx");
    expect(extension("README")).toBe("");
    expect(isRecordFile("x.parquet")).toBe(true);
    expect(isRecordFile("x.md")).toBe(false);
  });
  it("reads a chosen file's head", async () => {
    const file = new File(["name,team\nann,eng\n"], "people.csv");
    expect(await readColumns(file)).toEqual(["name", "team"]);
    expect(await readColumns(new File(["x"], "sheet.xlsx"))).toEqual([]);
  });
});
