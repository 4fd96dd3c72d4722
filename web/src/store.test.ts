import { describe, expect, it } from "vitest";
import { collection, harness, operation, page } from "./test-support";
import { STORAGE_KEY, STORAGE_VERSION } from "./lib/storage";

const notes = collection("notes");
const wiki = collection("wiki", { status: "processing" });

function routes() {
  return {
    "GET /api/v2/collections": () => ({ body: page([notes, wiki]) }),
    "GET /api/v2/operations": () => ({ body: page([operation(wiki.id)]) }),
  };
}

describe("app store", () => {
  it("starts a stored session: user, collections, active operations, live subscriptions", async () => {
    const h = harness(routes());
    await h.store.getState().start();
    const s = h.store.getState();
    expect(s.username).toBe("alice");
    expect(Object.keys(s.collections)).toEqual([notes.id, wiki.id]);
    expect(s.operations[`op-${wiki.id}`].progress).toBe(0.25);
    h.sockets[0].open();
    expect(h.sockets[0].sent).toEqual([
      { type: "subscribe_collection", collection_id: notes.id },
      { type: "subscribe_collection", collection_id: wiki.id },
    ]);
    expect(s.live).toBe("connecting");
    expect(h.store.getState().live).toBe("open");
  });

  it("moves a progress bar with the socket's events and fetches the end state", async () => {
    const done = operation(wiki.id, { status: "completed", progress: 1, processed: 20 });
    const h = harness({
      ...routes(),
      [`GET /api/v2/operations/op-${wiki.id}`]: () => ({ body: done }),
      [`GET /api/v2/collections/${wiki.id}`]: () => ({ body: { ...wiki, status: "ready", vector_count: 20 } }),
    });
    await h.store.getState().start();
    h.sockets[0].open();
    const opId = `op-${wiki.id}`;
    const data = { collection_id: wiki.id, operation_id: opId };
    h.sockets[0].emit({ type: "OperationProgressed", seq: 5, subscription: `collection:${wiki.id}`, data: { ...data, status: "processing", progress: 0.8, processed: 16, total: 20 } });
    expect(h.store.getState().operations[opId].progress).toBe(0.8);
    h.sockets[0].emit({ type: "OperationCompleted", seq: 6, subscription: `collection:${wiki.id}`, data });
    expect(h.store.getState().operations[opId].status).toBe("completed");
    expect(h.timers).toHaveLength(1);
    h.timers[0]();
    await new Promise((r) => setTimeout(r, 0));
    expect(h.store.getState().collections[wiki.id]).toMatchObject({ status: "ready", vector_count: 20 });
    expect(h.store.getState().operations[opId].processed).toBe(20);
  });

  it("takes a subscription's snapshot, and fetches an operation that ended before it", async () => {
    const done = operation(wiki.id, { status: "completed", progress: 1, processed: 20 });
    const h = harness({
      ...routes(),
      [`GET /api/v2/operations/op-${wiki.id}`]: () => ({ body: done }),
      [`GET /api/v2/collections/${wiki.id}`]: () => ({ body: { ...wiki, status: "ready", vector_count: 20 } }),
    });
    await h.store.getState().start();
    h.sockets[0].open();
    const now = { ...wiki, status: "ready", document_count: 4 };
    h.sockets[0].emit({ type: "snapshot", seq: 12, subscription: `collection:${wiki.id}`, data: { collection: now, operations: [] } });
    expect(h.store.getState().collections[wiki.id]).toMatchObject({ status: "ready", document_count: 4 });
    expect(h.timers).toHaveLength(1);
    h.timers[0]();
    await new Promise((r) => setTimeout(r, 0));
    expect(h.store.getState().operations[`op-${wiki.id}`]).toMatchObject({ status: "completed", processed: 20 });
  });

  it("fetches a collection again when its counts change, so its vectors agree with its chunks", async () => {
    const h = harness({
      ...routes(),
      [`GET /api/v2/collections/${notes.id}`]: () => ({ body: { ...notes, chunk_count: 7, vector_count: 7 } }),
    });
    await h.store.getState().start();
    h.sockets[0].open();
    const data = { collection_id: notes.id, document_count: 7, chunk_count: 7 };
    h.sockets[0].emit({ type: "CollectionCountsChanged", seq: 9, subscription: `collection:${notes.id}`, data });
    expect(h.store.getState().collections[notes.id].chunk_count).toBe(7);
    expect(h.timers).toHaveLength(1);
    h.timers[0]();
    await new Promise((r) => setTimeout(r, 0));
    expect(h.store.getState().collections[notes.id]).toMatchObject({ chunk_count: 7, vector_count: 7 });
  });

  it("keeps the search choices across a reload, in the versioned key", async () => {
    const h = harness(routes());
    await h.store.getState().start();
    h.store.getState().toggleSelected(notes.id);
    h.store.getState().setMode("dense");
    h.store.getState().setRerank(true);
    h.store.getState().setQuery("pricing");
    const stored = JSON.parse(h.storage.getItem(STORAGE_KEY) as string);
    expect(stored.version).toBe(STORAGE_VERSION);
    expect(stored.state).toMatchObject({ selected: [notes.id], mode: "dense", rerank: true, query: "pricing" });
  });


  it("searches the selected collections with the chosen mode", async () => {
    const response = { results: [], warnings: ["wiki: timed out"], partial: true, took_ms: 12 };
    const h = harness({
      ...routes(),
      "POST /api/v2/search": (call) => {
        expect(call.body).toEqual({
          limit: 10,
          query: "pricing",
          collection_ids: [notes.id, wiki.id],
          search_type: "sparse",
          rerank: true,
          facets: ["file_type", "source_id"],
        });
        return { body: response };
      },
    });
    await h.store.getState().start();
    const s = h.store.getState();
    await s.runSearch();
    expect(h.store.getState().search.error).toMatch(/Type what/);
    s.setQuery("pricing");
    await s.runSearch();
    expect(h.store.getState().search.error).toMatch(/at least one collection/);
    s.setSelected([notes.id, wiki.id]);
    s.setMode("sparse");
    s.setRerank(true);
    await s.runSearch();
    expect(h.store.getState().search).toMatchObject({ response, query: "pricing", busy: false, error: null });
  });

  it("puts a deleted card back when the gateway refuses", async () => {
    const h = harness({
      ...routes(),
      [`DELETE /api/v2/collections/${notes.id}`]: () => ({ status: 409, body: { detail: "an operation runs" } }),
    });
    await h.store.getState().start();
    await expect(h.store.getState().deleteCollection(notes.id)).rejects.toThrow("an operation runs");
    expect(h.store.getState().collections[notes.id]).toBeDefined();
    expect(h.store.getState().notice).toEqual({ kind: "error", text: "an operation runs" });
  });

  it("signs out: the cookie's session ended at the gateway, socket closed, state gone", async () => {
    const h = harness({ ...routes(), "POST /api/v1/auth/logout": () => ({ status: 204 }) });
    await h.store.getState().start();
    h.sockets[0].open();
    await h.store.getState().signOut();
    expect(h.sockets[0].closedWith).toBe(1000);
    const logout = h.calls.find((c) => c.path === "/api/v1/auth/logout");
    expect(logout).toMatchObject({ method: "POST", credentials: "same-origin", body: undefined });
    expect(h.store.getState()).toMatchObject({ username: null, accessToken: null, signedIn: false, collections: {} });
    expect(JSON.parse(h.storage.getItem(STORAGE_KEY) as string).state.signedIn).toBe(false);
  });

  it("never stores a token: the refresh token is the gateway's httpOnly cookie", async () => {
    const h = harness(
      {
        ...routes(),
        "POST /api/v1/auth/login": () => ({ body: { access_token: "a2", refresh_token: "r2" } }),
      },
      false,
    );
    await h.store.getState().signIn("alice", "a long password", false);
    expect(h.store.getState()).toMatchObject({ username: "alice", accessToken: "a2", signedIn: true });
    const login = h.calls.find((c) => c.path === "/api/v1/auth/login");
    expect(login?.credentials).toBe("same-origin");
    for (let i = 0; i < h.storage.length; i++) {
      const value = h.storage.getItem(h.storage.key(i) as string) ?? "";
      expect(value).not.toContain("a2");
      expect(value).not.toContain("r2");
    }
  });

  it("a reload renews the access token from the refresh cookie, then starts", async () => {
    const h = harness({ ...routes(), "POST /api/v1/auth/refresh": () => ({ body: { access_token: "fresh", refresh_token: "r" } }) });
    h.store.setState({ accessToken: null }); // a new page: nothing in memory
    await h.store.getState().start();
    const refresh = h.calls[0];
    expect(refresh).toMatchObject({ method: "POST", path: "/api/v1/auth/refresh", credentials: "same-origin", body: undefined });
    expect(h.calls.find((c) => c.path === "/api/v1/auth/me")?.auth).toBe("Bearer fresh");
    expect(h.store.getState()).toMatchObject({ username: "alice", accessToken: "fresh", signedIn: true });
  });

  it("a reload without a live cookie shows the sign-in, without a note", async () => {
    const h = harness({ ...routes(), "POST /api/v1/auth/refresh": () => ({ status: 401, body: { detail: "no refresh token" } }) });
    h.store.setState({ accessToken: null });
    await h.store.getState().start();
    expect(h.store.getState()).toMatchObject({ username: null, accessToken: null, signedIn: false, notice: null });
    expect(h.calls.map((c) => c.path)).toEqual(["/api/v1/auth/refresh"]);
  });

  it("a page never signed in asks the gateway nothing on load", async () => {
    const h = harness(routes(), false);
    await h.store.getState().start();
    expect(h.calls).toEqual([]);
    expect(h.store.getState().signedIn).toBe(false);
  });

  it("an expired session shows the sign-in again with a note", async () => {
    const h = harness({
      "GET /api/v1/auth/me": () => ({ status: 401 }),
      "POST /api/v1/auth/refresh": () => ({ status: 401 }),
    });
    await h.store.getState().start();
    expect(h.store.getState()).toMatchObject({ username: null, accessToken: null, signedIn: false });
    expect(h.store.getState().notice?.text).toMatch(/session has ended/);
  });
});
