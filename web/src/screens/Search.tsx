import type { FormEvent } from "react";
import { useApp } from "../context";
import { Notice, Options } from "../components/bits";
import { groupResults } from "../lib/text";
import type { SearchMode } from "../lib/types";
import { FacetPanel, RefinementChips } from "./Facets";
import { ResultItem } from "./SearchResults";

const MODES: { value: SearchMode; label: string }[] = [
  { value: "hybrid", label: "Hybrid (meaning + keywords)" },
  { value: "dense", label: "Dense (meaning)" },
  { value: "sparse", label: "Sparse (keywords, BM25)" },
];

export function Search() {
  const collections = useApp((s) => s.collections);
  const selected = useApp((s) => s.selected);
  const toggle = useApp((s) => s.toggleSelected);
  const setSelected = useApp((s) => s.setSelected);
  const mode = useApp((s) => s.mode);
  const setMode = useApp((s) => s.setMode);
  const rerank = useApp((s) => s.rerank);
  const setRerank = useApp((s) => s.setRerank);
  const query = useApp((s) => s.query);
  const setQuery = useApp((s) => s.setQuery);
  const search = useApp((s) => s.search);
  const run = useApp((s) => s.runSearch);
  const moreResults = useApp((s) => s.moreResults);
  const list = Object.values(collections).sort((a, b) => a.name.localeCompare(b.name));

  function submit(e: FormEvent) {
    e.preventDefault();
    void run();
  }

  const response = search.response;
  return (
    <main id="main" className="page">
      <h1>Search</h1>
      <form className="search-form" onSubmit={submit} role="search">
        <label className="grow">
          Query
          <input type="search" value={query} placeholder="what did we decide about pricing" onChange={(e) => setQuery(e.target.value)} />
        </label>
        <label>
          Mode
          <select value={mode} onChange={(e) => setMode(e.target.value as SearchMode)}>
            <Options choices={MODES} />
          </select>
        </label>
        <label className="inline">
          <input type="checkbox" checked={rerank} onChange={(e) => setRerank(e.target.checked)} />
          Rerank the best results
        </label>
        <button type="submit" className="primary" disabled={search.busy}>
          {search.busy ? "Searching…" : "Search"}
        </button>
        <fieldset className="pick">
          <legend>
            Collections to search ({selected.length} of {list.length})
          </legend>
          {list.length === 0 && <p className="muted">No collections yet.</p>}
          {list.map((c) => (
            <label key={c.id} className="chip">
              <input type="checkbox" checked={selected.includes(c.id)} onChange={() => toggle(c.id)} />
              {c.name}
            </label>
          ))}
          {list.length > 1 && (
            <button type="button" className="link" onClick={() => setSelected(selected.length === list.length ? [] : list.map((c) => c.id))}>
              {selected.length === list.length ? "Select none" : "Select all"}
            </button>
          )}
        </fieldset>
      </form>
      {search.error && <Notice kind="error" text={search.error} />}
      {response && (
        <div className={response.facets ? "search-layout" : undefined}>
          {response.facets && <FacetPanel facets={response.facets} order={search.request?.facets ?? []} />}
          <section aria-labelledby="results-title" aria-live="polite" className="search-results">
            <h2 id="results-title" className="h3">
              {response.results.length} results in {Math.round(response.took_ms)} ms
              {response.partial && <span className="badge badge-degraded">partial</span>}
            </h2>
            <RefinementChips />
            {response.warnings.length > 0 && (
              <div className="notice notice-warning" role="alert">
                <strong>The search answered with warnings:</strong>
                <ul>
                  {response.warnings.map((w) => (
                    <li key={w}>{w}</li>
                  ))}
                </ul>
              </div>
            )}
            {groupResults(response.results).map((group) => (
              <section key={group.collectionId} className="result-group" aria-label={`Results from ${collections[group.collectionId]?.name ?? group.collectionId}`}>
                <h3>{collections[group.collectionId]?.name ?? group.collectionId}</h3>
                <ol className="results">
                  {group.results.map((r) => (
                    <ResultItem key={r.chunk_id} result={r} />
                  ))}
                </ol>
              </section>
            ))}
            {response.has_more === true && (
              <button type="button" className="more" disabled={search.more || search.busy} onClick={() => void moreResults()}>
                {search.more ? "Loading more…" : "More results"}
              </button>
            )}
          </section>
        </div>
      )}
    </main>
  );
}
