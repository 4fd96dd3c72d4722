/**
 * What the unit tests talk to instead of a gateway: an in-memory Storage, a socket the
 * test drives by hand, and a fetch that answers from a table of routes. The real gateway
 * is exercised by the Playwright suite (web/e2e).
 */
import { render, type RenderResult } from "@testing-library/react";
import type { ReactElement } from "react";
import { StoreContext } from "./context";
import type { SocketLike } from "./lib/live";
import type { Collection, Operation } from "./lib/types";
import { createAppStore, type AppStore } from "./store";

export class MemoryStorage implements Storage {
  private data = new Map<string, string>();
  get length() {
    return this.data.size;
  }
  clear() {
    this.data.clear();
  }
  getItem(key: string) {
    return this.data.get(key) ?? null;
  }
  key(i: number) {
    return [...this.data.keys()][i] ?? null;
  }
  removeItem(key: string) {
    this.data.delete(key);
  }
  setItem(key: string, value: string) {
    this.data.set(key, value);
  }
}

export class FakeSocket implements SocketLike {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null = null;
  closedWith: number | undefined;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}
  send(data: string) {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(code?: number) {
    this.closedWith = code;
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  emit(frame: Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

export interface Call {
  method: string;
  path: string;
  body: unknown;
  auth: string | null;
  credentials: RequestCredentials | null;
}

export type Handler = (call: Call) => { status?: number; body?: unknown } | undefined;

/** A fetch answering `METHOD /path` (query string ignored unless the key has one). */
export function fakeFetch(routes: Record<string, Handler>, calls: Call[] = []) {
  return async (input: string, init?: RequestInit): Promise<Response> => {
    const method = init?.method ?? "GET";
    const headers = (init?.headers ?? {}) as Record<string, string>;
    let body: unknown = init?.body;
    if (typeof body === "string") body = JSON.parse(body);
    const call = { method, path: input, body, auth: headers.Authorization ?? null, credentials: init?.credentials ?? null };
    calls.push(call);
    const handler = routes[`${method} ${input}`] ?? routes[`${method} ${input.split("?")[0]}`];
    const answer = handler?.(call) ?? { status: 404, body: { detail: `no route ${method} ${input}` } };
    const status = answer.status ?? 200;
    return new Response(status === 204 ? null : JSON.stringify(answer.body ?? null), {
      status,
      headers: { "Content-Type": "application/json" },
    });
  };
}

export function collection(name: string, extra: Partial<Collection> = {}): Collection {
  return {
    id: `id-${name}`,
    name,
    description: "",
    owner: "u1",
    model_name: "sentence-transformers/all-MiniLM-L6-v2",
    model_dimension: 384,
    status: "ready",
    chunk_size: 256,
    chunk_overlap: 25,
    document_count: 3,
    chunk_count: 7,
    vector_count: 7,
    active_generation: 1,
    created_at: `2026-11-30T10:00:0${name.length % 10}Z`,
    updated_at: "2026-11-30T10:00:00Z",
    ...extra,
  };
}

export function operation(collectionId: string, extra: Partial<Operation> = {}): Operation {
  return {
    id: `op-${collectionId}`,
    collection_id: collectionId,
    type: "append",
    status: "processing",
    progress: 0.25,
    processed: 5,
    total: 20,
    skipped: 0,
    failed: 0,
    message: "",
    error: null,
    failures: [],
    created_at: "2026-11-30T10:01:00Z",
    started_at: "2026-11-30T10:01:00Z",
    completed_at: null,
    ...extra,
  };
}

export const page = <T,>(items: T[]) => ({ items, total: items.length, limit: 500, offset: 0 });

export interface Harness {
  store: AppStore;
  sockets: FakeSocket[];
  calls: Call[];
  storage: MemoryStorage;
  timers: (() => void)[];
}

/** A store over fakes, signed in as alice when `signedIn`. */
export function harness(routes: Record<string, Handler>, signedIn = true): Harness {
  const storage = new MemoryStorage();
  if (signedIn) {
    storage.setItem(
      "semantik.ui",
      JSON.stringify({
        version: 3,
        state: { signedIn: true, selected: [], mode: "hybrid", rerank: false, query: "" },
      }),
    );
  }
  const sockets: FakeSocket[] = [];
  const calls: Call[] = [];
  const timers: (() => void)[] = [];
  const store = createAppStore({
    storage,
    fetcher: fakeFetch({ "GET /api/v1/auth/me": () => ({ body: { username: "alice" } }), ...routes }, calls),
    connect: (url, protocols) => {
      const s = new FakeSocket(url, protocols);
      sockets.push(s);
      return s;
    },
    socketUrl: "ws://test/ws",
    history: { pushState: () => undefined, replaceState: () => undefined },
    schedule: (fn) => timers.push(fn),
  });
  // A page that signed in already holds its access token (in memory); a reload's renewal
  // from the refresh cookie has tests of its own.
  if (signedIn) store.setState({ accessToken: "a1" });
  return { store, sockets, calls, storage, timers };
}

export function renderWith(store: AppStore, ui: ReactElement): RenderResult {
  return render(<StoreContext.Provider value={store}>{ui}</StoreContext.Provider>);
}
