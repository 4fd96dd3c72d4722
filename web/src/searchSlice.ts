/**
 * The search screen's state and actions, a part of the application's store: a query's
 * first page with its facets, the pages after it appended ("More results"), refinements
 * picked from the facets, and the scores' explanation fetched on demand.
 */
import type { Api } from "./lib/api";
import { facetKeys, sameRefinement, toFilters, type Refinement } from "./lib/facets";
import { search, type SearchParams } from "./lib/searchApi";
import type { Explain, SearchResponse, SearchResult, Source } from "./lib/types";
import type { AppActions, AppState } from "./storeTypes";

export interface SearchView {
  /** The results so far: the first page and those appended after it. */
  response: SearchResponse | null;
  /** The query the results answer. */
  query: string;
  busy: boolean;
  /** The next page is on its way. */
  more: boolean;
  error: string | null;
  refinements: Refinement[];
  /** The results carry `explain` (and further pages will). */
  explained: boolean;
  explaining: boolean;
  /** The searched collections' sources by id (a source facet shows its path). */
  sources: Record<string, Source>;
  /** The search the results answer, without its offset. */
  request: SearchParams | null;
}

export const EMPTY_SEARCH: SearchView = {
  response: null,
  query: "",
  busy: false,
  more: false,
  error: null,
  refinements: [],
  explained: false,
  explaining: false,
  sources: {},
  request: null,
};

export type SearchActions = Pick<AppActions, "runSearch" | "refine" | "unrefine" | "moreResults" | "explainResults">;

type State = AppState & AppActions;
type Set = (partial: Partial<State> | ((s: State) => Partial<State>)) => void;

/** The server answers `explain` for at most this many results a request. */
const EXPLAIN_BATCH = 100;

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function searchActions(api: () => Api, set: Set, get: () => State): SearchActions {
  // A newer search makes the answer of an older one stale.
  let generation = 0;
  const patch = (view: Partial<SearchView>) => set((s) => ({ search: { ...s.search, ...view } }));

  async function first(request: SearchParams, view: Partial<SearchView>): Promise<void> {
    const mine = ++generation;
    patch({ ...view, busy: true, more: false, error: null });
    const explain = get().search.explained;
    try {
      const response = await search(api(), { ...request, explain });
      if (mine !== generation) return;
      patch({ response, request, busy: false });
    } catch (e) {
      if (mine === generation) patch({ busy: false, error: message(e) });
    }
  }

  async function sourcesOf(ids: string[]): Promise<Source[]> {
    const lists = await Promise.all(ids.map((id) => api().sources(id).then((l) => l.items, () => [] as Source[])));
    return lists.flat();
  }

  function refined(refinements: Refinement[]): Promise<void> {
    const { request } = get().search;
    if (!request) return Promise.resolve();
    return first({ ...request, filters: toFilters(refinements) }, { refinements });
  }

  return {
    async runSearch() {
      const { query, selected, mode, rerank } = get();
      if (!query.trim()) {
        patch({ error: "Type what you are looking for." });
        return;
      }
      if (selected.length === 0) {
        patch({ error: "Pick at least one collection to search." });
        return;
      }
      patch({ busy: true, error: null });
      const sources = await sourcesOf(selected);
      const request: SearchParams = {
        query,
        collection_ids: selected,
        search_type: mode,
        rerank,
        facets: facetKeys(sources),
      };
      // A new query starts over: first page, no refinements, scores not explained.
      await first(request, {
        query,
        refinements: [],
        explained: false,
        response: null,
        sources: Object.fromEntries(sources.map((s) => [s.id, s])),
      });
    },

    refine(refinement) {
      const { refinements } = get().search;
      if (refinements.some((r) => sameRefinement(r, refinement))) return Promise.resolve();
      return refined([...refinements, refinement]);
    },

    unrefine(refinement) {
      return refined(get().search.refinements.filter((r) => !sameRefinement(r, refinement)));
    },

    async moreResults() {
      const { response, request, explained, more, busy } = get().search;
      if (!response || !request || more || busy || response.has_more !== true) return;
      const mine = generation;
      const offset = response.results.length;
      patch({ more: true, error: null });
      try {
        // The facets stay those of the first page: they count the same candidates.
        const page = await search(api(), { ...request, facets: [], offset, explain: explained });
        if (mine !== generation) return;
        const seen = new Set(response.results.map((r) => r.document_id));
        const added = page.results
          .filter((r) => !seen.has(r.document_id))
          .map((r, i) => ({ ...r, rank: offset + i + 1 }));
        patch({
          more: false,
          response: {
            ...response,
            results: [...response.results, ...added],
            has_more: page.has_more === true,
            warnings: [...new Set([...response.warnings, ...page.warnings])],
            partial: response.partial || page.partial,
          },
        });
      } catch (e) {
        if (mine === generation) patch({ more: false, error: message(e) });
      }
    },

    async explainResults() {
      const { response, request, explained, explaining } = get().search;
      if (!response || !request || explained || explaining) return;
      const mine = generation;
      patch({ explaining: true, error: null });
      try {
        const byChunk = new Map<string, Explain>();
        const total = response.results.length;
        for (let offset = 0; offset < total; offset += EXPLAIN_BATCH) {
          const limit = Math.min(EXPLAIN_BATCH, total - offset);
          const page = await search(api(), { ...request, facets: [], offset, limit, explain: true });
          for (const r of page.results) if (r.explain) byChunk.set(r.chunk_id, r.explain);
        }
        if (mine !== generation) return;
        const current = get().search.response ?? response;
        const results: SearchResult[] = current.results.map((r) => ({ ...r, explain: byChunk.get(r.chunk_id) ?? r.explain ?? null }));
        patch({ explaining: false, explained: true, response: { ...current, results } });
      } catch (e) {
        if (mine === generation) patch({ explaining: false, error: message(e) });
      }
    },
  };
}
