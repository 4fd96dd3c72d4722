import { useState } from "react";
import { useApp } from "../context";
import { ProgressBar, RoleBadge, StatusBadge } from "../components/bits";
import { isOwner, roleOf } from "../lib/roles";
import { filterCollections, formatCount, isActive, type StatusFilter } from "../lib/text";
import type { Collection } from "../lib/types";
import { CreateCollectionDialog } from "./dialogs";

const FILTERS: { value: StatusFilter; label: string }[] = [
  { value: "all", label: "All statuses" },
  { value: "ready", label: "Ready" },
  { value: "active", label: "Working (indexing, reindexing)" },
  { value: "pending", label: "Pending (no data yet)" },
  { value: "degraded", label: "Degraded" },
  { value: "error", label: "Error" },
];

export function Dashboard() {
  const collections = useApp((s) => s.collections);
  const loaded = useApp((s) => s.loaded);
  const [text, setText] = useState("");
  const [status, setStatus] = useState<StatusFilter>("all");
  const [creating, setCreating] = useState(false);
  const all = Object.values(collections).sort((a, b) => a.created_at.localeCompare(b.created_at));
  const shown = filterCollections(all, text, status);
  const mine = shown.filter(isOwner);
  const shared = shown.filter((c) => !isOwner(c));
  const anyShared = all.some((c) => !isOwner(c));

  return (
    <main id="main" className="page">
      <div className="page-head">
        <h1>Collections</h1>
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          Create collection
        </button>
      </div>
      {loaded && all.length === 0 ? (
        <section className="empty card" aria-labelledby="empty-title">
          <h2 id="empty-title">No collections yet</h2>
          <p>
            A collection is a set of documents searched together. Create one, then add a folder on
            the server or upload files: Semantik reads, chunks and embeds them, and you can search
            them by meaning.
          </p>
          <ol>
            <li>Create a collection and give it a name.</li>
            <li>Add data: a folder path on the server, or a file from your computer.</li>
            <li>Watch the indexing progress, then search.</li>
          </ol>
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            Create your first collection
          </button>
        </section>
      ) : (
        <>
          <div className="toolbar" role="search" aria-label="Filter collections">
            <label>
              Find
              <input
                type="search"
                placeholder="name or description"
                value={text}
                onChange={(e) => setText(e.target.value)}
              />
            </label>
            <label>
              Status
              <select value={status} onChange={(e) => setStatus(e.target.value as StatusFilter)}>
                {FILTERS.map((f) => (
                  <option key={f.value} value={f.value}>
                    {f.label}
                  </option>
                ))}
              </select>
            </label>
            <span className="muted" aria-live="polite">
              {shown.length} of {all.length} shown
            </span>
          </div>
          {!loaded && <p className="muted">Loading collections…</p>}
          {anyShared && <h2 id="mine-title">My collections</h2>}
          <ul className="cards" aria-label="Collections">
            {mine.map((c) => (
              <CollectionCard key={c.id} collection={c} />
            ))}
          </ul>
          {anyShared && mine.length === 0 && shared.length > 0 && (
            <p className="muted">None of your own{text || status !== "all" ? " matches" : " yet"}.</p>
          )}
          {anyShared && (
            <section className="shared" aria-labelledby="shared-title">
              <h2 id="shared-title">Shared with me</h2>
              {shared.length > 0 ? (
                <ul className="cards" aria-label="Shared with me">
                  {shared.map((c) => (
                    <CollectionCard key={c.id} collection={c} />
                  ))}
                </ul>
              ) : (
                shown.length > 0 && <p className="muted">No shared collection matches.</p>
              )}
            </section>
          )}
          {loaded && shown.length === 0 && <p className="muted">No collection matches.</p>}
        </>
      )}
      {creating && <CreateCollectionDialog onClose={() => setCreating(false)} />}
    </main>
  );
}

export function CollectionCard({ collection: c }: { collection: Collection }) {
  const navigate = useApp((s) => s.navigate);
  const op = useApp((s) =>
    Object.values(s.operations).find((o) => o.collection_id === c.id && isActive(o)),
  );
  const href = `/collections/${c.id}`;
  return (
    <li className="card collection-card" data-testid={`card-${c.name}`}>
      <div className="card-head">
        <h2>
          <a
            href={href}
            onClick={(e) => {
              e.preventDefault();
              navigate({ name: "collection", id: c.id, tab: "overview" });
            }}
          >
            {c.name}
          </a>
        </h2>
        <span className="badges">
          {!isOwner(c) && <RoleBadge role={roleOf(c)} />}
          <StatusBadge status={c.status} />
        </span>
      </div>
      {c.description && <p className="muted">{c.description}</p>}
      <dl className="stats">
        <div>
          <dt>Documents</dt>
          <dd>{formatCount(c.document_count)}</dd>
        </div>
        <div>
          <dt>Chunks</dt>
          <dd>{formatCount(c.chunk_count)}</dd>
        </div>
        <div>
          <dt>Vectors</dt>
          <dd>{formatCount(c.vector_count)}</dd>
        </div>
      </dl>
      <p className="model" title="Embedding model">
        {c.model_name}
      </p>
      {op && <ProgressBar op={op} label={`${c.name}: ${op.type} progress`} />}
    </li>
  );
}
