import { describe, expect, it } from "vitest";
import { collection, operation } from "../test-support";
import {
  confirms,
  filterCollections,
  formatBytes,
  groupResults,
  progressLabel,
} from "./text";
import type { SearchResult } from "./types";

const result = (collection_id: string, rank: number): SearchResult => ({
  collection_id,
  document_id: `d${rank}`,
  chunk_id: `k${rank}`,
  path: `/p/${rank}.md`,
  text: "",
  score: 1 / rank,
  rank,
  metadata: {},
});

describe("groupResults", () => {
  it("groups by collection in the order of each group's best rank", () => {
    const groups = groupResults([result("b", 2), result("a", 3), result("b", 1), result("a", 4)]);
    expect(groups.map((g) => g.collectionId)).toEqual(["b", "a"]);
    expect(groups[0].results.map((r) => r.rank)).toEqual([1, 2]);
  });
});

describe("filterCollections", () => {
  const all = [
    collection("Engineering docs", { description: "runbooks" }),
    collection("Sales", { status: "processing" }),
    collection("Legal", { status: "error" }),
  ];
  it("matches name or description, case-insensitive", () => {
    expect(filterCollections(all, "RUNBOOK", "all").map((c) => c.name)).toEqual(["Engineering docs"]);
    expect(filterCollections(all, "  ", "all")).toHaveLength(3);
  });
  it("filters by status, 'active' meaning work under way", () => {
    expect(filterCollections(all, "", "error").map((c) => c.name)).toEqual(["Legal"]);
    expect(filterCollections(all, "", "active").map((c) => c.name)).toEqual(["Sales"]);
    expect(filterCollections(all, "legal", "ready")).toEqual([]);
  });
});

describe("formatting", () => {
  it("labels progress with chunks once the total is known", () => {
    expect(progressLabel(operation("c", { progress: 0.5, processed: 10, total: 20 }))).toBe("50 % · 10 of 20 chunks");
    expect(progressLabel(operation("c", { progress: 0, total: 0, message: "scanning: 3 of 9 files" }))).toBe(
      "0 % · scanning: 3 of 9 files",
    );
    expect(progressLabel(operation("c", { progress: 0, total: 0 }))).toBe("0 %");
  });
  it("formats sizes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(50 * 1024 * 1024)).toBe("50 MB");
  });
  it("confirms only with the exact name", () => {
    expect(confirms(" notes ", "notes")).toBe(true);
    expect(confirms("Notes", "notes")).toBe(false);
  });
});
