/** The shapes of the application's store (``store.ts`` builds it). */
import type { StoreApi } from "zustand/vanilla";
import type { Api, RegisterExtras } from "./lib/api";
import type { LiveConnection, LiveState, SocketFactory } from "./lib/live";
import type { Route } from "./lib/router";
import type { PersistedState } from "./lib/storage";
import type { Refinement } from "./lib/facets";
import type { Collection, ColumnChoice, Me, Operation, SearchMode } from "./lib/types";
import type { SearchView } from "./searchSlice";

export interface Notice {
  kind: "error" | "info";
  text: string;
}

export interface AppState extends PersistedState {
  /** The short-lived access token, in memory only (the refresh token is the gateway's
   * httpOnly cookie): a reload renews it from the cookie. */
  accessToken: string | null;
  username: string | null;
  /** Who is signed in: admin or not, and their teams. */
  me: Me | null;
  collections: Record<string, Collection>;
  operations: Record<string, Operation>;
  loaded: boolean;
  live: LiveState;
  route: Route;
  notice: Notice | null;
  search: SearchView;
  /** The stored state was of another version and has been reset. */
  storageReset: boolean;
}

export interface AppActions {
  start(): Promise<void>;
  signIn(username: string, password: string, register: boolean | RegisterExtras): Promise<void>;
  signOut(): Promise<void>;
  navigate(route: Route, replace?: boolean): void;
  notify(notice: Notice | null): void;
  refreshCollections(): Promise<void>;
  refreshCollection(id: string): Promise<void>;
  loadOperations(collectionId: string): Promise<Operation[]>;
  loadActiveOperations(): Promise<void>;
  createCollection(body: Parameters<Api["createCollection"]>[0]): Promise<Collection>;
  deleteCollection(id: string): Promise<void>;
  updateCollection(id: string, body: { name?: string; description?: string }): Promise<Collection>;
  removeSource(collectionId: string, sourceId: string): Promise<Operation>;
  addData(
    id: string,
    source: { path: string } | { file: File },
    columns: ColumnChoice,
  ): Promise<Operation>;
  reindex(id: string, body: Parameters<Api["reindex"]>[1]): Promise<Operation>;
  cancelOperation(id: string): Promise<void>;
  setSelected(ids: string[]): void;
  toggleSelected(id: string): void;
  setMode(mode: SearchMode): void;
  setRerank(rerank: boolean): void;
  setQuery(query: string): void;
  /** A new query: its first page, facets and no refinements. */
  runSearch(): Promise<void>;
  /** The same query with a facet's value added to (or removed from) its filters. */
  refine(refinement: Refinement): Promise<void>;
  unrefine(refinement: Refinement): Promise<void>;
  /** The next page, appended. */
  moreResults(): Promise<void>;
  /** The raw scores behind each result shown (and the pages after). */
  explainResults(): Promise<void>;
}

export type AppStore = StoreApi<AppState & AppActions> & { api: Api; live: LiveConnection };

export interface Environment {
  storage: Storage;
  fetcher?: (input: string, init?: RequestInit) => Promise<Response>;
  connect: SocketFactory;
  socketUrl: string;
  history?: { pushState(d: unknown, t: string, url: string): void; replaceState(d: unknown, t: string, url: string): void };
  pathname?: string;
  schedule?: (fn: () => void, ms: number) => unknown;
}
