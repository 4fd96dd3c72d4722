import { describe, expect, it } from "vitest";
import { parseRoute, pathOf, type Route } from "./router";

describe("routes", () => {
  it("parse and print each other", () => {
    const routes: Route[] = [
      { name: "dashboard" },
      { name: "search" },
      { name: "operations" },
      { name: "admin" },
      { name: "keys" },
      { name: "collection", id: "c1", tab: "overview" },
      { name: "collection", id: "c1", tab: "files" },
      { name: "webhooks" },
      { name: "document", id: "c1", documentId: "d1", chunk: null },
      { name: "document", id: "c1", documentId: "d1", chunk: 12 },
    ];
    for (const r of routes) expect(parseRoute(pathOf(r))).toEqual(r);
    expect(pathOf({ name: "keys" })).toBe("/api-keys");
  });
  it("falls back to the dashboard and to the overview tab", () => {
    expect(parseRoute("/nowhere")).toEqual({ name: "dashboard" });
    expect(parseRoute("/collections/c1/bogus")).toEqual({ name: "collection", id: "c1", tab: "overview" });
    expect(parseRoute("/collections/c1/documents/d1?chunk=-2")).toEqual({ name: "document", id: "c1", documentId: "d1", chunk: null });
    expect(parseRoute("/collections/c1/documents/d1?chunk=2x")).toMatchObject({ chunk: null });
    expect(parseRoute("/collections/c1/documents")).toEqual({ name: "collection", id: "c1", tab: "overview" });
    expect(pathOf({ name: "document", id: "c 1", documentId: "d/1", chunk: 0 })).toBe("/collections/c%201/documents/d%2F1?chunk=0");
  });
});
