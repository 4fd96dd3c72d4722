import { describe, expect, it } from "vitest";
import { markSpans, markUnits, normalize, spansWithin, unitOffsets } from "./marks";

const marked = (text: string, spans: [number, number][]) =>
  markSpans(text, spans)
    .filter((s) => s.match)
    .map((s) => s.text);

describe("markSpans", () => {
  it("marks exactly the given offsets and keeps every character, in order", () => {
    const text = "Pricing decisions: we decided the price.";
    const segments = markSpans(text, [[0, 7], [22, 29]]);
    expect(segments.filter((s) => s.match).map((s) => s.text)).toEqual(["Pricing", "decided"]);
    expect(segments.map((s) => s.text).join("")).toBe(text);
  });

  it("reads offsets as code points, as the server counts them", () => {
    // "🙂" is one code point and two UTF-16 units.
    const text = "🙂 price 𝔸 cost";
    expect(marked(text, [[2, 7], [10, 14]])).toEqual(["price", "cost"]);
    expect(unitOffsets(text)(99)).toBe(text.length);
    expect(unitOffsets("plain")(-3)).toBe(0);
  });

  it("sorts, merges overlaps, clips to the text and drops what is not a span", () => {
    const text = "abcdefghij";
    expect(marked(text, [[6, 8], [1, 3], [2, 5], [8, 40], [4, 4], [7, 2]])).toEqual(["bcde", "ghij"]);
    expect(normalize(text, [[1.5, 3] as [number, number]])).toEqual([]);
    expect(markSpans("", [])).toEqual([{ text: "", match: false }]);
    expect(markSpans("none", [])).toEqual([{ text: "none", match: false }]);
  });

  it("moves a window's spans to be relative to it", () => {
    expect(spansWithin([[2, 4], [8, 12], [20, 22]], 3, 10)).toEqual([[0, 1], [5, 7]]);
    expect(markUnits("abcdef", [[1, 2]]).map((s) => s.text)).toEqual(["a", "b", "cdef"]);
  });
});
