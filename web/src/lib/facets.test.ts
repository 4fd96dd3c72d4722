import { describe, expect, it } from "vitest";
import { facetEntries, facetKeys, facetTitle, toFilters, valueLabel } from "./facets";
import { attachmentName } from "./searchApi";
import type { Source } from "./types";

const source = (id: string, context_columns: string[]): Source => ({
  id,
  collection_id: "c",
  kind: "file",
  path: `/data/${id}.csv`,
  text_columns: ["body"],
  context_columns,
  id_column: null,
  created_at: "",
});

describe("facets", () => {
  it("asks for the base facets and each context column once, at most 8, valid names only", () => {
    expect(facetKeys([])).toEqual(["file_type", "source_id"]);
    const many = source("a", ["team", "state", "team", "bad/name", "x".repeat(65), "due date", "v1.2", "a", "b", "c", "d"]);
    expect(facetKeys([many, source("b", ["team", "late"])])).toEqual([
      "file_type",
      "source_id",
      "columns.team",
      "columns.state",
      "columns.due date",
      "columns.v1.2",
      "columns.a",
      "columns.b",
    ]);
  });

  it("labels keys and values as a person reads them", () => {
    const sources = { s1: source("s1", []) };
    expect(["file_type", "source_id", "mime", "columns.team", "other"].map(facetTitle)).toEqual([
      "File type",
      "Source",
      "Media type",
      "team",
      "other",
    ]);
    expect(valueLabel("source_id", "s1", sources)).toBe("/data/s1.csv");
    expect(valueLabel("source_id", "gone", sources)).toBe("gone");
    expect(valueLabel("columns.done", true, sources)).toBe("yes");
    expect(valueLabel("columns.done", false, sources)).toBe("no");
    expect(valueLabel("columns.team", "", sources)).toBe("(none)");
    expect(valueLabel("columns.n", 3, sources)).toBe("3");
  });

  it("orders a facet's values by count, then value, whatever order the object keeps", () => {
    // JSON.parse puts integer-like keys first, ascending: the server's order is lost.
    const counts = JSON.parse('{"2021": 2, "b": 3, "2019": 1, "a": 3, "1999": 2}') as Record<string, number>;
    expect(Object.keys(counts)[0]).toBe("1999");
    expect(facetEntries(counts)).toEqual([
      ["a", 3],
      ["b", 3],
      ["1999", 2],
      ["2021", 2],
      ["2019", 1],
    ]);
  });

  it("makes refinements filters: one value, or any of several of a key", () => {
    expect(toFilters([])).toEqual({});
    expect(
      toFilters([
        { key: "file_type", value: "md" },
        { key: "columns.team", value: "web" },
        { key: "file_type", value: "pdf" },
      ]),
    ).toEqual({ file_type: ["md", "pdf"], "columns.team": "web" });
  });
});

describe("attachmentName", () => {
  it("reads filename* first, then filename, else the fallback", () => {
    expect(attachmentName(`attachment; filename="a.csv"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`, "x")).toBe("résumé.pdf");
    expect(attachmentName('attachment; filename="say \\"hi\\".txt"', "x")).toBe('say "hi".txt');
    expect(attachmentName("attachment; filename=plain.md", "x")).toBe("plain.md");
    expect(attachmentName("attachment; filename*=UTF-8''%E0%A4%A", "x")).toBe("x");
    expect(attachmentName("attachment", "fallback.txt")).toBe("fallback.txt");
    expect(attachmentName(null, "fallback.txt")).toBe("fallback.txt");
  });
});
