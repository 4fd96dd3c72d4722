/**
 * The server's character offsets made into runs of text, marked or not. The server
 * counts characters as Python does (code points); a string here counts UTF-16 units,
 * so offsets are converted where the text holds characters beyond the BMP (emoji).
 */
import type { Span } from "./types";

export interface Segment {
  text: string;
  match: boolean;
}

const ASTRAL = /[\uD800-\uDBFF][\uDC00-\uDFFF]/;

/** A function from a code-point offset of `text` to its UTF-16 offset. */
export function unitOffsets(text: string): (codePoint: number) => number {
  if (!ASTRAL.test(text)) return (n) => Math.min(Math.max(n, 0), text.length);
  const units: number[] = [];
  let at = 0;
  for (const ch of text) {
    units.push(at);
    at += ch.length;
  }
  units.push(at);
  return (n) => units[Math.min(Math.max(n, 0), units.length - 1)];
}

/** Spans in UTF-16 units, sorted, overlapping ones merged; `unit` converts an offset
 * (by default from code points of `text`, clamped to it). */
export function normalize(
  text: string,
  spans: readonly Span[],
  unit: (offset: number) => number = unitOffsets(text),
): Span[] {
  const sorted = spans
    .filter((s) => Array.isArray(s) && Number.isInteger(s[0]) && Number.isInteger(s[1]) && s[1] > s[0])
    .map(([a, b]): Span => [unit(a), unit(b)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  const merged: Span[] = [];
  for (const [a, b] of sorted) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  return merged;
}

/** `text` cut into runs, `match` on exactly the spans given (UTF-16 offsets, sorted,
 * not overlapping: what `normalize` gives). */
export function markUnits(text: string, spans: readonly Span[]): Segment[] {
  const segments: Segment[] = [];
  let at = 0;
  for (const [a, b] of spans) {
    if (a > at) segments.push({ text: text.slice(at, a), match: false });
    segments.push({ text: text.slice(a, b), match: true });
    at = b;
  }
  if (at < text.length || segments.length === 0) segments.push({ text: text.slice(at), match: false });
  return segments;
}

/** `text` cut into runs, `match` on exactly the spans given (the server's offsets). */
export function markSpans(text: string, spans: readonly Span[]): Segment[] {
  return markUnits(text, normalize(text, spans));
}

/** Spans of a window `[start, end)` of the text, moved to be relative to it. */
export function spansWithin(spans: readonly Span[], start: number, end: number): Span[] {
  return spans
    .filter(([a, b]) => b > start && a < end)
    .map(([a, b]): Span => [Math.max(a, start) - start, Math.min(b, end) - start]);
}
