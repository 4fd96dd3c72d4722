/** The facets of a search beside its results, and the refinements picked from them. */
import { useApp } from "../context";
import { facetEntries, facetTitle, sameRefinement, valueLabel } from "../lib/facets";
import type { FacetCounts } from "../lib/types";

export function RefinementChips() {
  const refinements = useApp((s) => s.search.refinements);
  const sources = useApp((s) => s.search.sources);
  const unrefine = useApp((s) => s.unrefine);
  if (refinements.length === 0) return null;
  return (
    <ul className="refinements" aria-label="Refinements">
      {refinements.map((r) => {
        const text = `${facetTitle(r.key)}: ${valueLabel(r.key, r.value, sources)}`;
        return (
          <li key={`${r.key}=${String(r.value)}`} className="refinement">
            <span>{text}</span>
            <button type="button" className="link" aria-label={`Remove ${text}`} onClick={() => void unrefine(r)}>
              ✕
            </button>
          </li>
        );
      })}
    </ul>
  );
}

export function FacetPanel({ facets, order }: { facets: Record<string, FacetCounts>; order: string[] }) {
  const refinements = useApp((s) => s.search.refinements);
  const sources = useApp((s) => s.search.sources);
  const busy = useApp((s) => s.search.busy);
  const refine = useApp((s) => s.refine);
  const unrefine = useApp((s) => s.unrefine);
  const keys = [...order.filter((k) => k in facets), ...Object.keys(facets).filter((k) => !order.includes(k))];
  const shown = keys.filter((k) => Object.keys(facets[k]).length > 0);
  if (shown.length === 0) return null;
  return (
    <aside className="facets" aria-label="Refine the results">
      {shown.map((key) => (
        <section key={key} className="facet" aria-label={facetTitle(key)}>
          <h3>{facetTitle(key)}</h3>
          <ul>
            {facetEntries(facets[key]).map(([value, count]) => {
              // The value as the facet names it: the server matches "2021" or "true"
              // against a column's number or bool too.
              const refinement = { key, value };
              const active = refinements.some((r) => sameRefinement(r, refinement));
              return (
                <li key={value}>
                  <button
                    type="button"
                    className="facet-value"
                    aria-pressed={active}
                    disabled={busy}
                    onClick={() => void (active ? unrefine(refinement) : refine(refinement))}
                  >
                    <span className="facet-label">{valueLabel(key, value, sources)}</span>{" "}
                    <span className="count">({count})</span>
                  </button>
                </li>
              );
            })}
          </ul>
        </section>
      ))}
    </aside>
  );
}
