/** One search result: its snippet or whole chunk with the server's highlights, its
 * score, its explanation on demand, and a link to the document at this chunk. */
import { useState } from "react";
import { useApp } from "../context";
import { Marked } from "../components/bits";
import { RouteLink } from "../components/RouteLink";
import type { Route } from "../lib/router";
import type { Explain, SearchResult } from "../lib/types";

/** The route of a result's document, at its chunk. */
export function documentRoute(r: SearchResult): Route {
  const index = r.metadata.chunk_index;
  const chunk = typeof index === "number" && Number.isInteger(index) && index >= 0 ? index : null;
  return { name: "document", id: r.collection_id, documentId: r.document_id, chunk };
}

function formatValue(v: number | null): string {
  return v === null ? "—" : v.toFixed(4);
}

function ExplainFacts({ explain }: { explain: Explain }) {
  const rows: [string, string][] = [
    ["Dense (meaning)", formatValue(explain.dense)],
    ["Sparse (BM25)", formatValue(explain.sparse)],
    ["Fused", formatValue(explain.fused)],
    ["Rank in its collection", String(explain.rank_in_collection)],
    ["Rerank", formatValue(explain.rerank)],
  ];
  return (
    <dl className="facts explain" aria-label="Score explained">
      {rows.map(([term, value]) => (
        <div key={term} className="contents">
          <dt>{term}</dt>
          <dd className="mono">{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function ResultItem({ result: r }: { result: SearchResult }) {
  const explaining = useApp((s) => s.search.explaining);
  const explainResults = useApp((s) => s.explainResults);
  const [whole, setWhole] = useState(false);
  const [explained, setExplained] = useState(false);
  const highlights = r.highlights ?? [];
  const snippet = r.snippet
    ? { text: r.snippet, start: r.snippet_start ?? 0, highlights: r.snippet_highlights ?? [] }
    : { text: r.text, start: 0, highlights };
  const partial = snippet.start > 0 || snippet.text.length < r.text.length;
  const route = documentRoute(r);

  function toggleExplain() {
    setExplained(!explained);
    if (!explained && !r.explain) void explainResults();
  }

  return (
    <li className="result" data-testid="result" data-document={r.document_id}>
      <div className="result-head">
        <RouteLink route={route} className="mono">
          {r.path}
        </RouteLink>
        <span className="muted">
          #{r.rank}
          {r.score !== null && ` · score ${r.score.toFixed(3)}`}
        </span>
      </div>
      {whole || !partial ? (
        <p className="result-text">
          <Marked text={r.text} spans={highlights} />
        </p>
      ) : (
        <p className="snippet">
          {snippet.start > 0 && "… "}
          <Marked text={snippet.text} spans={snippet.highlights} />
          {/* Offsets count code points, as the server does. */}
          {snippet.start + [...snippet.text].length < [...r.text].length && " …"}
        </p>
      )}
      <div className="result-actions">
        {partial && (
          <button type="button" className="link" aria-expanded={whole} onClick={() => setWhole(!whole)}>
            {whole ? "Show the snippet" : "Show the whole chunk"}
          </button>
        )}
        <button type="button" className="link" aria-expanded={explained} onClick={toggleExplain}>
          Explain the score
        </button>
        <RouteLink route={route}>Open the document</RouteLink>
      </div>
      {explained && (r.explain ? <ExplainFacts explain={r.explain} /> : <p className="muted">{explaining ? "Explaining…" : "No explanation."}</p>)}
    </li>
  );
}
