import { describe, expect, it } from "vitest";
import { collection, operation } from "../test-support";
import { endsOperation, foldEvent, type LiveView } from "./events";

const c = collection("notes", { status: "pending", document_count: 0, chunk_count: 0 });
const base: LiveView = { collections: { [c.id]: c }, operations: {} };
const frame = (type: string, data: Record<string, unknown>) => ({
  type,
  seq: 1,
  timestamp: "2026-11-30T12:00:00Z",
  data: { collection_id: c.id, operation_id: "o1", ...data },
});

describe("foldEvent", () => {
  it("follows an operation from its request to its end", () => {
    let view = foldEvent(base, frame("OperationRequested", { operation_type: "append" }));
    expect(view.operations.o1).toMatchObject({ type: "append", status: "pending" });
    view = foldEvent(view, frame("OperationStarted", {}));
    expect(view.operations.o1.status).toBe("processing");
    view = foldEvent(view, frame("OperationProgressed", { status: "processing", progress: 0.4, processed: 4, total: 10 }));
    expect(view.operations.o1).toMatchObject({ progress: 0.4, processed: 4, total: 10 });
    view = foldEvent(view, frame("OperationCompleted", {}));
    expect(view.operations.o1).toMatchObject({ status: "completed", progress: 1, completed_at: "2026-11-30T12:00:00Z" });
    // A progress frame that comes after the end does not reopen it.
    expect(foldEvent(view, frame("OperationProgressed", { progress: 0.5 }))).toBe(view);
  });

  it("keeps why an operation failed or was cancelled", () => {
    const failed = foldEvent(base, frame("OperationFailed", { error: "model missing" }));
    expect(failed.operations.o1).toMatchObject({ status: "failed", error: "model missing" });
    const cancelled = foldEvent(base, frame("OperationCancelled", { reason: "" }));
    expect(cancelled.operations.o1).toMatchObject({ status: "cancelled", message: "cancelled" });
  });

  it("updates a collection's status, counts and name, and removes it when deleted", () => {
    let view = foldEvent(base, frame("CollectionStatusChanged", { status: "processing", reason: "indexing" }));
    expect(view.collections[c.id]).toMatchObject({ status: "processing", status_reason: "indexing" });
    view = foldEvent(view, frame("CollectionCountsChanged", { document_count: 3, chunk_count: 9 }));
    expect(view.collections[c.id]).toMatchObject({ document_count: 3, chunk_count: 9 });
    view = foldEvent(view, frame("CollectionUpdated", { name: "Notes", description: "team" }));
    expect(view.collections[c.id].name).toBe("Notes");
    view = foldEvent(view, frame("CollectionDeleted", {}));
    expect(view.collections).toEqual({});
  });

  it("leaves the view alone for what it does not show", () => {
    expect(foldEvent(base, frame("DocumentRegistered", {}))).toBe(base);
    expect(foldEvent(base, { type: "CollectionStatusChanged", data: { collection_id: "other" } })).toBe(base);
    const running = { ...base, operations: { o1: operation(c.id, { id: "o1" }) } };
    expect(foldEvent(running, frame("OperationRequested", {}))).toBe(running);
    expect(foldEvent(running, frame("OperationStarted", {}))).toBe(running);
  });

  it("knows which events end an operation", () => {
    expect(endsOperation(frame("OperationCompleted", {}))).toBe(true);
    expect(endsOperation(frame("OperationProgressed", {}))).toBe(false);
  });
});
