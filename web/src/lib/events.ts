/**
 * Live events folded into what the UI shows: the collections and operations it holds.
 * Pure (the store calls it); the REST state is fetched again when an operation ends, so
 * what the events do not carry (vector counts, failures) comes from the read models.
 * A subscription starts with a `snapshot` frame, the state as the REST API shows it,
 * which replaces what the UI held: the events that follow it come after its `seq`.
 */
import type { LiveFrame } from "./live";
import type { Collection, CollectionStatus, Operation, OperationStatus } from "./types";

export interface LiveView {
  collections: Record<string, Collection>;
  operations: Record<string, Operation>;
}

const ENDED: Record<string, OperationStatus> = {
  OperationCompleted: "completed",
  OperationFailed: "failed",
  OperationCancelled: "cancelled",
};

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function num(v: unknown, fallback = 0): number {
  return typeof v === "number" ? v : fallback;
}

function blankOperation(id: string, collectionId: string, at: string): Operation {
  return {
    id,
    collection_id: collectionId,
    type: "index",
    status: "pending",
    progress: 0,
    processed: 0,
    total: 0,
    skipped: 0,
    failed: 0,
    message: "",
    error: null,
    failures: [],
    created_at: at,
    started_at: null,
    completed_at: null,
  };
}

const UNFINISHED: Record<string, true> = { queued: true, pending: true, processing: true };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The operations a snapshot frame carries: a collection's unfinished ones, or one. */
function snapshotOperations(frame: LiveFrame): Operation[] {
  const d = frame.data ?? {};
  const listed = Array.isArray(d.operations) ? d.operations : [d.operation];
  return listed.filter(isRecord).map((o) => o as unknown as Operation);
}

/** A subscription's starting state folded in: its collection and operations replaced. */
function foldSnapshot(view: LiveView, frame: LiveFrame): LiveView {
  const shown = frame.data?.collection;
  let collections = view.collections;
  if (isRecord(shown) && typeof shown.id === "string" && shown.id in collections) {
    collections = { ...collections, [shown.id]: { ...collections[shown.id], ...(shown as unknown as Collection) } };
  }
  const listed = snapshotOperations(frame);
  const operations = listed.length ? { ...view.operations } : view.operations;
  for (const o of listed) operations[o.id] = { ...operations[o.id], ...o };
  return collections === view.collections && operations === view.operations ? view : { collections, operations };
}

/**
 * The operations the view shows unfinished that a collection's snapshot no longer lists:
 * they ended before the subscription began, so no event will say so (fetch them again).
 */
export function endedBeforeSnapshot(view: LiveView, frame: LiveFrame): string[] {
  const shown = frame.data?.collection;
  if (frame.type !== "snapshot" || !isRecord(shown)) return [];
  const listed = new Set(snapshotOperations(frame).map((o) => o.id));
  return Object.values(view.operations)
    .filter((o) => o.collection_id === shown.id && o.status in UNFINISHED && !listed.has(o.id))
    .map((o) => o.id);
}

/** The view after one event; the same object when the event changes nothing shown. */
export function foldEvent(view: LiveView, frame: LiveFrame): LiveView {
  if (frame.type === "snapshot") return foldSnapshot(view, frame);
  const d = frame.data ?? {};
  const at = frame.timestamp ?? new Date().toISOString();
  const collectionId = str(d.collection_id);
  const operationId = str(d.operation_id);
  const collection = view.collections[collectionId];
  const operation = view.operations[operationId];
  const withCollection = (c: Collection): LiveView => ({
    ...view,
    collections: { ...view.collections, [c.id]: c },
  });
  const withOperation = (o: Operation): LiveView => ({
    ...view,
    operations: { ...view.operations, [o.id]: o },
  });
  switch (frame.type) {
    case "CollectionStatusChanged":
      return collection
        ? withCollection({
            ...collection,
            status: str(d.status) as CollectionStatus,
            status_reason: str(d.reason),
          })
        : view;
    case "CollectionCountsChanged":
      return collection
        ? withCollection({
            ...collection,
            document_count: num(d.document_count, collection.document_count),
            chunk_count: num(d.chunk_count, collection.chunk_count),
          })
        : view;
    case "CollectionUpdated":
      return collection
        ? withCollection({ ...collection, name: str(d.name), description: str(d.description) })
        : view;
    case "CollectionDeleted": {
      if (!collection) return view;
      const collections = { ...view.collections };
      delete collections[collectionId];
      return { ...view, collections };
    }
    case "OperationRequested":
      if (operation) return view;
      return withOperation({
        ...blankOperation(operationId, collectionId, at),
        type: str(d.operation_type) || "index",
      });
    case "OperationStarted": {
      const base = operation ?? blankOperation(operationId, collectionId, at);
      if (base.status !== "pending") return view;
      return withOperation({ ...base, status: "processing", started_at: at });
    }
    case "OperationProgressed": {
      const base = operation ?? blankOperation(operationId, collectionId, at);
      if (base.status in { completed: 1, failed: 1, cancelled: 1 }) return view;
      return withOperation({
        ...base,
        status: (str(d.status) as OperationStatus) || "processing",
        progress: num(d.progress, base.progress),
        processed: num(d.processed, base.processed),
        total: num(d.total, base.total),
        skipped: num(d.skipped, base.skipped),
        failed: num(d.failed, base.failed),
        message: str(d.message),
      });
    }
    case "OperationCompleted":
    case "OperationFailed":
    case "OperationCancelled": {
      const base = operation ?? blankOperation(operationId, collectionId, at);
      return withOperation({
        ...base,
        status: ENDED[frame.type],
        progress: frame.type === "OperationCompleted" ? 1 : base.progress,
        error: frame.type === "OperationFailed" ? str(d.error) : base.error,
        message: frame.type === "OperationCancelled" ? str(d.reason) || "cancelled" : base.message,
        completed_at: at,
      });
    }
    default:
      return view;
  }
}

/** Does this event end an operation (so the read models are worth fetching again)? */
export function endsOperation(frame: LiveFrame): boolean {
  return frame.type in ENDED;
}
