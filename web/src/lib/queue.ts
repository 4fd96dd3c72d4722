import type { Operation } from "./types";

/** An operation waiting in its collection's queue for the running one (SPEC §12). */
export function isQueued(op: Pick<Operation, "status">): boolean {
  return op.status === "queued";
}

/** "Queued: next" or "Queued: 3rd in line", or "" for an operation that does not wait. */
export function queueText(op: Pick<Operation, "status" | "queue_position">): string {
  if (!isQueued(op)) return "";
  const n = op.queue_position;
  if (n === 1) return "Queued: next";
  if (n === undefined || n === null) return "Queued";
  const suffix = n % 10 === 2 && n % 100 !== 12 ? "nd" : n % 10 === 3 && n % 100 !== 13 ? "rd" : n % 10 === 1 && n % 100 !== 11 ? "st" : "th";
  return `Queued: ${n}${suffix} in line`;
}
