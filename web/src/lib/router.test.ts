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
    ];
    for (const r of routes) expect(parseRoute(pathOf(r))).toEqual(r);
    expect(pathOf({ name: "keys" })).toBe("/api-keys");
  });
  it("falls back to the dashboard and to the overview tab", () => {
    expect(parseRoute("/nowhere")).toEqual({ name: "dashboard" });
    expect(parseRoute("/collections/c1/bogus")).toEqual({ name: "collection", id: "c1", tab: "overview" });
  });
});
