/** Pure helpers the screens share: grouping, filtering, formatting. */
import type { Collection, CollectionStatus, Operation, SearchResult } from "./types";

export interface ResultGroup {
  collectionId: string;
  results: SearchResult[];
}

/** Results grouped by collection, groups in the order of their best result. */
export function groupResults(results: SearchResult[]): ResultGroup[] {
  const groups = new Map<string, SearchResult[]>();
  for (const r of [...results].sort((a, b) => a.rank - b.rank)) {
    const list = groups.get(r.collection_id) ?? [];
    list.push(r);
    groups.set(r.collection_id, list);
  }
  return [...groups].map(([collectionId, list]) => ({ collectionId, results: list }));
}

export type StatusFilter = "all" | CollectionStatus | "active";

const ACTIVE: readonly CollectionStatus[] = ["processing", "reindexing", "pending"];

/** Collections whose name or description contains `text`, with the chosen status. */
export function filterCollections(
  collections: Collection[],
  text: string,
  status: StatusFilter,
): Collection[] {
  const needle = text.trim().toLowerCase();
  return collections.filter((c) => {
    if (status === "active" && !ACTIVE.includes(c.status)) return false;
    if (status !== "all" && status !== "active" && c.status !== status) return false;
    if (!needle) return true;
    return c.name.toLowerCase().includes(needle) || c.description.toLowerCase().includes(needle);
  });
}

export function isActive(op: Pick<Operation, "status">): boolean {
  return op.status === "pending" || op.status === "processing";
}

/** "42 %" and what is behind it, for a progress bar's label. */
export function progressLabel(op: Operation): string {
  const pct = `${Math.round(op.progress * 100)} %`;
  if (op.total > 0) return `${pct} · ${op.processed} of ${op.total} chunks`;
  return op.message ? `${pct} · ${op.message}` : pct;
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Is `typed` the collection's name, for a destructive action's confirmation? */
export function confirms(typed: string, name: string): boolean {
  return typed.trim() === name;
}
