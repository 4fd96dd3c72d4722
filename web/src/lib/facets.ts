/**
 * Facets of a search and the refinements a person picks from them: which facets to ask
 * for (a collection's record columns among them), their labels, and the filters they make.
 */
import type { FilterValue } from "./searchApi";
import type { FacetCounts, FacetScalar, Source } from "./types";

export interface Refinement {
  key: string;
  value: FacetScalar;
}

/** Facets every search asks for; the server takes at most `MAX_FACETS`. */
export const BASE_FACETS = ["file_type", "source_id"] as const;
export const MAX_FACETS = 8;
/** What the server accepts as a column name in `columns.<name>`. */
const COLUMN_NAME = /^[\p{L}\p{N}_\- .]{1,64}$/u;

/** The facets to ask for: the base ones, then the sources' context columns (a record's
 * columns kept beside its text), each once, in the order the sources name them. */
export function facetKeys(sources: readonly Source[]): string[] {
  const keys: string[] = [...BASE_FACETS];
  for (const source of sources) {
    for (const name of source.context_columns) {
      const key = `columns.${name}`;
      if (COLUMN_NAME.test(name) && !keys.includes(key) && keys.length < MAX_FACETS) keys.push(key);
    }
  }
  return keys;
}

/** A facet's heading. */
export function facetTitle(key: string): string {
  if (key === "file_type") return "File type";
  if (key === "source_id") return "Source";
  if (key === "mime") return "Media type";
  return key.startsWith("columns.") ? key.slice("columns.".length) : key;
}

/** A facet value as a person reads it: a source by its path. */
export function valueLabel(key: string, value: FacetScalar, sources: Record<string, Source>): string {
  if (key === "source_id") return sources[String(value)]?.path ?? String(value);
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (value === "") return "(none)";
  return String(value);
}

/** A facet's values, most frequent first, then by value: the server's order, which a
 * JavaScript object loses (it puts integer-like keys such as "2021" first, ascending). */
export function facetEntries(counts: FacetCounts): [string, number][] {
  return Object.entries(counts).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0));
}

export function sameRefinement(a: Refinement, b: Refinement): boolean {
  return a.key === b.key && a.value === b.value;
}

/** Refinements as the search's filters: one value, or any of several of one key. */
export function toFilters(refinements: readonly Refinement[]): Record<string, FilterValue> {
  const byKey = new Map<string, FacetScalar[]>();
  for (const r of refinements) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r.value]);
  return Object.fromEntries([...byKey].map(([key, values]) => [key, values.length === 1 ? values[0] : values]));
}
