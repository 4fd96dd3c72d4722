/**
 * The application's state (Zustand): the session, the collections and operations shown,
 * the search, and the live connection that keeps them current. Built by `createAppStore`
 * from what it talks to, so tests hand in their own storage, fetch and socket.
 */
import { createStore } from "zustand/vanilla";
import { Api, ApiError } from "./lib/api";
import { endedBeforeSnapshot, endsOperation, foldEvent } from "./lib/events";
import { LiveConnection } from "./lib/live";
import { parseRoute, pathOf } from "./lib/router";
import { clearState, loadState, saveState } from "./lib/storage";
import { EMPTY_SEARCH, searchActions } from "./searchSlice";
import type { AppActions, AppState, AppStore, Environment } from "./storeTypes";
import type { Collection, Operation } from "./lib/types";

export type { AppActions, AppState, AppStore, Environment, Notice } from "./storeTypes";

function byCreation(items: Collection[]): Record<string, Collection> {
  return Object.fromEntries(items.map((c) => [c.id, c]));
}

export function createAppStore(env: Environment): AppStore {
  const { state: stored, reset } = loadState(env.storage);
  let api!: Api;
  let live!: LiveConnection;
  let refreshTimer: unknown = null;
  const endedCollections = new Set<string>();
  // Deleted here: an answer to a request sent before the delete must not bring it back.
  const deleted = new Set<string>();
  const endedOperations = new Set<string>();
  const schedule = env.schedule ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));

  const store = createStore<AppState & AppActions>()((set, get) => {
    const fail = (e: unknown): never => {
      const text = e instanceof Error ? e.message : String(e);
      set({ notice: { kind: "error", text } });
      throw e;
    };
    const mergeOperations = (ops: Operation[]) =>
      set((s) => ({ operations: { ...s.operations, ...Object.fromEntries(ops.map((o) => [o.id, o])) } }));

    return {
      ...stored,
      accessToken: null,
      username: null,
      me: null,
      collections: {},
      operations: {},
      loaded: false,
      live: "closed",
      route: parseRoute(env.pathname ?? "/"),
      notice: reset ? { kind: "info", text: "Saved settings from an older version were reset." } : null,
      search: { ...EMPTY_SEARCH, query: stored.query },
      storageReset: reset,

      async start() {
        if (!get().accessToken) {
          // A reload: resume the session of the refresh cookie, if there was one.
          if (!get().signedIn) return;
          if (!(await api.renew())) {
            set({ signedIn: false });
            return;
          }
        }
        try {
          const me = await api.me();
          set({ username: me.username, me: { ...me, is_admin: me.is_admin === true, teams: me.teams ?? [] } });
        } catch (e) {
          if (e instanceof ApiError && e.status === 401) return;
          throw e;
        }
        live.start();
        await get().refreshCollections();
        await get().loadActiveOperations();
      },

      async signIn(username, password, register) {
        await api.signIn(username, password, register);
        set({ notice: null, signedIn: true });
        await get().start();
      },

      async signOut() {
        live.stop();
        await api.signOut();
        set({
          signedIn: false,
          username: null,
          me: null,
          collections: {},
          operations: {},
          loaded: false,
          selected: [],
          search: EMPTY_SEARCH,
          query: "",
        });
      },

      navigate(route, replace = false) {
        const url = pathOf(route);
        if (replace) env.history?.replaceState(null, "", url);
        else env.history?.pushState(null, "", url);
        set({ route });
      },

      notify(notice) {
        set({ notice });
      },

      async refreshCollections() {
        const page = await api.collections();
        const collections = byCreation(page.items.filter((c) => !deleted.has(c.id)));
        set((s) => ({
          collections,
          loaded: true,
          selected: s.selected.filter((id) => id in collections),
        }));
        for (const id of Object.keys(collections)) live.followCollection(id);
      },

      async refreshCollection(id) {
        try {
          const c = await api.collection(id);
          if (deleted.has(id)) return;
          set((s) => ({ collections: { ...s.collections, [id]: c } }));
          live.followCollection(id);
        } catch (e) {
          // Unknown, deleted, or no longer shared with the caller: it leaves the view.
          if (e instanceof ApiError && (e.status === 404 || e.status === 403)) {
            set((s) => {
              const collections = { ...s.collections };
              delete collections[id];
              return { collections };
            });
            return;
          }
          throw e;
        }
      },

      async loadOperations(collectionId) {
        const page = await api.operations(collectionId);
        mergeOperations(page.items);
        return page.items;
      },

      async loadActiveOperations() {
        const [processing, pending] = await Promise.all([api.activeOperations(), api.pendingOperations()]);
        mergeOperations([...processing.items, ...pending.items]);
      },

      async createCollection(body) {
        try {
          const c = await api.createCollection(body);
          set((s) => ({ collections: { ...s.collections, [c.id]: c }, notice: null }));
          live.followCollection(c.id);
          return c;
        } catch (e) {
          return fail(e);
        }
      },

      async deleteCollection(id) {
        const before = get().collections[id];
        deleted.add(id);
        // Optimistic: the card goes at once and comes back if the gateway refuses.
        set((s) => {
          const collections = { ...s.collections };
          delete collections[id];
          return { collections, selected: s.selected.filter((x) => x !== id) };
        });
        try {
          await api.deleteCollection(id);
          live.unfollow("collection", id);
        } catch (e) {
          deleted.delete(id);
          if (before) set((s) => ({ collections: { ...s.collections, [id]: before } }));
          fail(e);
        }
      },

      async updateCollection(id, body) {
        try {
          const c = await api.updateCollection(id, body);
          set((s) => ({ collections: { ...s.collections, [id]: { ...s.collections[id], ...c } }, notice: null }));
          return c;
        } catch (e) {
          return fail(e);
        }
      },

      async removeSource(collectionId, sourceId) {
        try {
          const answer = await api.removeSource(collectionId, sourceId);
          mergeOperations([answer.operation]);
          set({ notice: null });
          return answer.operation;
        } catch (e) {
          return fail(e);
        }
      },

      async addData(id, source, columns) {
        try {
          const answer =
            "file" in source
              ? await api.upload(id, source.file, columns)
              : await api.addPath(id, source.path, columns);
          mergeOperations([answer.operation]);
          live.followCollection(id);
          set({ notice: null });
          return answer.operation;
        } catch (e) {
          return fail(e);
        }
      },

      async reindex(id, body) {
        try {
          const op = await api.reindex(id, body);
          mergeOperations([op]);
          set((s) => {
            const c = s.collections[id];
            return c ? { collections: { ...s.collections, [id]: { ...c, status: "reindexing" } } } : {};
          });
          return op;
        } catch (e) {
          return fail(e);
        }
      },

      async cancelOperation(id) {
        try {
          mergeOperations([await api.cancel(id)]);
        } catch (e) {
          fail(e);
        }
      },

      setSelected(ids) {
        set({ selected: ids });
      },

      toggleSelected(id) {
        set((s) => ({
          selected: s.selected.includes(id) ? s.selected.filter((x) => x !== id) : [...s.selected, id],
        }));
      },

      setMode(mode) {
        set({ mode });
      },

      setRerank(rerank) {
        set({ rerank });
      },

      setQuery(query) {
        set({ query });
      },

      ...searchActions(() => api, set, get),
    };
  });

  api = new Api(
    {
      accessToken: () => store.getState().accessToken,
      setAccessToken: (accessToken: string | null) => store.setState({ accessToken }),
      onSignedOut: () => {
        live.stop();
        store.setState({ signedIn: false, username: null, notice: { kind: "info", text: "Your session has ended. Please sign in again." } });
      },
    },
    env.fetcher,
  );
  live = new LiveConnection({
    url: env.socketUrl,
    token: () => store.getState().accessToken,
    renew: () => api.renew(),
    connect: env.connect,
    schedule: env.schedule,
    onState: (state) => store.setState({ live: state }),
    onEvent: (frame) => {
      const s = store.getState();
      const before = { collections: s.collections, operations: s.operations };
      // Ended while no subscription followed them: no event will say so.
      for (const id of endedBeforeSnapshot(before, frame)) endedOperations.add(id);
      if (endedOperations.size && refreshTimer === null) refreshTimer = schedule(refreshEnded, 300);
      const view = foldEvent(before, frame);
      if (view.collections !== s.collections || view.operations !== s.operations) {
        store.setState({ collections: view.collections, operations: view.operations });
      }
      // A collection's counts changed, or an operation ended: fetch the collection again,
      // so its vector count (read from the vector store, carried by no event) agrees with
      // its chunk count whenever a card shows both. Once per burst: a replayed history
      // ends many operations at once.
      const counted = frame.type === "CollectionCountsChanged";
      if (endsOperation(frame) || counted) {
        endedCollections.add(String(frame.data.collection_id ?? ""));
        if (!counted) endedOperations.add(String(frame.data.operation_id ?? ""));
        if (refreshTimer === null) refreshTimer = schedule(refreshEnded, 300);
      }
    },
  });

  function refreshEnded(): void {
    refreshTimer = null;
    const collections = [...endedCollections];
    const operations = [...endedOperations];
    endedCollections.clear();
    endedOperations.clear();
    for (const id of collections) void store.getState().refreshCollection(id).catch(() => undefined);
    for (const id of operations.slice(-20)) {
      void api
        .request<Operation>("GET", `/api/v2/operations/${id}`)
        .then((op) => store.setState((st) => ({ operations: { ...st.operations, [op.id]: op } })))
        .catch(() => undefined);
    }
  }

  // What survives a reload, under one versioned key.
  store.subscribe((s, prev) => {
    if (
      s.signedIn !== prev.signedIn ||
      s.selected !== prev.selected ||
      s.mode !== prev.mode ||
      s.rerank !== prev.rerank ||
      s.query !== prev.query
    ) {
      if (!s.signedIn && prev.signedIn) clearState(env.storage);
      saveState(env.storage, {
        signedIn: s.signedIn,
        selected: s.selected,
        mode: s.mode,
        rerank: s.rerank,
        query: s.query,
      });
    }
  });

  return Object.assign(store, { api, live });
}
