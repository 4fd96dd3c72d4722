/**
 * Live events folded into what the UI shows: the collections and operations it holds.
 * Pure (the store calls it); the REST state is fetched again when an operation ends, so
 * what the events do not carry (vector counts, failures) comes from the read models.
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

/** The view after one event; the same object when the event changes nothing shown. */
export function foldEvent(view: LiveView, frame: LiveFrame): LiveView {
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
