import { useEffect } from "react";
import { useApp } from "../context";
import { ProgressBar, StatusBadge } from "../components/bits";
import { isActive } from "../lib/text";
import { isQueued, queueText } from "../lib/queue";

/** Every operation under way on the user's collections, live. */
export function ActiveOperations() {
  const operations = useApp((s) => s.operations);
  const collections = useApp((s) => s.collections);
  const load = useApp((s) => s.loadActiveOperations);
  const navigate = useApp((s) => s.navigate);
  useEffect(() => {
    void load().catch(() => undefined);
  }, [load]);
  const active = Object.values(operations)
    .filter((op) => isActive(op) || isQueued(op))
    .sort((a, b) => a.created_at.localeCompare(b.created_at));
  return (
    <main id="main" className="page">
      <h1>Active operations</h1>
      {active.length === 0 ? (
        <p className="muted">Nothing is running now. Adding data or reindexing starts an operation.</p>
      ) : (
        <ul className="operations" aria-label="Active operations">
          {active.map((op) => {
            const c = collections[op.collection_id];
            const name = c?.name ?? op.collection_id;
            return (
              <li key={op.id} className="card">
                <div className="card-head">
                  <h2 className="h3">
                    <a
                      href={`/collections/${op.collection_id}/operations`}
                      onClick={(e) => {
                        e.preventDefault();
                        navigate({ name: "collection", id: op.collection_id, tab: "operations" });
                      }}
                    >
                      {name}
                    </a>{" "}
                    · {op.type}
                  </h2>
                  <StatusBadge status={op.status} />
                </div>
                {isQueued(op) ? (
                  <p className="muted">{queueText(op)}</p>
                ) : (
                  <ProgressBar op={op} label={`${name}: ${op.type} progress`} />
                )}
              </li>
            );
          })}
        </ul>
      )}
    </main>
  );
}
