import { describe, expect, it } from "vitest";
import { collection, operation } from "../test-support";
import { endedBeforeSnapshot, endsOperation, foldEvent, type LiveView } from "./events";

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

  it("replaces the collection and operations with a subscription's snapshot", () => {
    const running = operation(c.id, { id: "o1", status: "processing", processed: 2 });
    const ended = operation(c.id, { id: "o2", status: "processing" });
    const held: LiveView = { ...base, operations: { o1: running, o2: ended } };
    const now = { ...c, status: "processing", document_count: 7 };
    const snapshot = {
      type: "snapshot",
      seq: 40,
      subscription: `collection:${c.id}`,
      data: { collection: now, operations: [{ ...running, processed: 9 }] },
    };
    const view = foldEvent(held, snapshot);
    expect(view.collections[c.id]).toMatchObject({ status: "processing", document_count: 7 });
    expect(view.operations.o1.processed).toBe(9);
    // o2 ended before the subscription: no event will come, so it is fetched again.
    expect(endedBeforeSnapshot(held, snapshot)).toEqual(["o2"]);
    const single = { type: "snapshot", seq: 41, data: { operation: { ...running, status: "completed" } } };
    expect(foldEvent(held, single).operations.o1.status).toBe("completed");
    expect(endedBeforeSnapshot(held, single)).toEqual([]);
    // A snapshot of a collection the view does not show adds nothing.
    const other = { ...snapshot, data: { collection: { ...now, id: "elsewhere" }, operations: [] } };
    expect(foldEvent(held, other)).toBe(held);
  });
});
