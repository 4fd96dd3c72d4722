import { describe, expect, it } from "vitest";
import { isQueued, queueText } from "./queue";

describe("queued operations", () => {
  it("say where they wait", () => {
    expect(queueText({ status: "queued", queue_position: 1 })).toBe("Queued: next");
    expect(queueText({ status: "queued", queue_position: 2 })).toBe("Queued: 2nd in line");
    expect(queueText({ status: "queued", queue_position: 3 })).toBe("Queued: 3rd in line");
    expect(queueText({ status: "queued", queue_position: 11 })).toBe("Queued: 11th in line");
    expect(queueText({ status: "queued", queue_position: 21 })).toBe("Queued: 21st in line");
    expect(queueText({ status: "queued", queue_position: null })).toBe("Queued");
  });

  it("leave the others alone", () => {
    expect(isQueued({ status: "processing" })).toBe(false);
    expect(queueText({ status: "processing", queue_position: null })).toBe("");
  });
});
