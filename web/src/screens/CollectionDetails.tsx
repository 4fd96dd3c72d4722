import { useEffect, useState, type KeyboardEvent } from "react";
import { useApp, useAppStore } from "../context";
import { ProgressBar, RoleBadge, StatusBadge } from "../components/bits";
import { canEdit, isOwner, roleOf } from "../lib/roles";
import { TABS, type Tab } from "../lib/router";
import { formatBytes, formatCount, isActive } from "../lib/text";
import { isQueued, queueText } from "../lib/queue";
import type { Collection, Operation, Source } from "../lib/types";
import { SettingsTab } from "./CollectionSettings";
import { FilesTab } from "./FilesTab";
import { SourcesTab } from "./SourcesTab";
import { RemoveSourceDialog } from "./sourceDialogs";
import { AddDataDialog } from "./dialogs";
import { ShareDialog } from "./ShareDialog";

const TAB_LABELS: Record<Tab, string> = {
  overview: "Overview",
  sources: "Sources",
  operations: "Operations",
  files: "Files",
  settings: "Settings",
};

export function CollectionDetails({ id, tab }: { id: string; tab: Tab }) {
  const collection = useApp((s) => s.collections[id]);
  const loaded = useApp((s) => s.loaded);
  const navigate = useApp((s) => s.navigate);
  const refresh = useApp((s) => s.refreshCollection);
  const [adding, setAdding] = useState(false);
  const [sharing, setSharing] = useState(false);

  useEffect(() => {
    void refresh(id).catch(() => undefined);
  }, [id, refresh]);

  if (!collection) {
    return (
      <main id="main" className="page">
        <p>{loaded ? "This collection does not exist (or was deleted)." : "Loading…"}</p>
        <a href="/" onClick={(e) => { e.preventDefault(); navigate({ name: "dashboard" }); }}>
          Back to collections
        </a>
      </main>
    );
  }

  const select = (t: Tab) => navigate({ name: "collection", id, tab: t }, true);
  const onKey = (e: KeyboardEvent) => {
    const at = TABS.indexOf(tab);
    const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    e.preventDefault();
    const next = TABS[(at + step + TABS.length) % TABS.length];
    select(next);
    document.getElementById(`tab-${next}`)?.focus();
  };

  return (
    <main id="main" className="page">
      <nav aria-label="Breadcrumb" className="crumbs">
        <a href="/" onClick={(e) => { e.preventDefault(); navigate({ name: "dashboard" }); }}>
          Collections
        </a>{" "}
        / <span aria-current="page">{collection.name}</span>
      </nav>
      <div className="page-head">
        <h1>
          {collection.name} <StatusBadge status={collection.status} />
          {!isOwner(collection) && <RoleBadge role={roleOf(collection)} />}
        </h1>
        <div className="actions">
          {isOwner(collection) && (
            <button type="button" onClick={() => setSharing(true)}>
              Share
            </button>
          )}
          {canEdit(collection) && (
            <button type="button" className="primary" onClick={() => setAdding(true)}>
              Add data
            </button>
          )}
        </div>
      </div>
      <div role="tablist" aria-label="Collection" className="tabs" onKeyDown={onKey}>
        {TABS.map((t) => (
          <button
            key={t}
            id={`tab-${t}`}
            role="tab"
            type="button"
            aria-selected={t === tab}
            aria-controls={`panel-${t}`}
            tabIndex={t === tab ? 0 : -1}
            onClick={() => select(t)}
          >
            {TAB_LABELS[t]}
          </button>
        ))}
      </div>
      <section role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="panel">
        {tab === "overview" && <Overview collection={collection} />}
        {tab === "operations" && <OperationsTab collection={collection} />}
        {tab === "sources" && <SourcesTab collection={collection} />}
        {tab === "files" && <FilesTab collection={collection} />}
        {tab === "settings" && <SettingsTab collection={collection} />}
      </section>
      {adding && <AddDataDialog collection={collection} onClose={() => setAdding(false)} />}
      {sharing && <ShareDialog collection={collection} onClose={() => setSharing(false)} />}
    </main>
  );
}

function useCollectionOperations(id: string): Operation[] {
  const operations = useApp((s) => s.operations);
  return Object.values(operations)
    .filter((o) => o.collection_id === id)
    .sort((a, b) => b.created_at.localeCompare(a.created_at));
}

function Overview({ collection: c }: { collection: Collection }) {
  const ops = useCollectionOperations(c.id);
  const active = ops.filter(isActive);
  const store = useAppStore();
  const [sources, setSources] = useState<Source[] | null>(null);
  const [removing, setRemoving] = useState<Source | null>(null);
  const editable = canEdit(c);
  useEffect(() => {
    void store.api.sources(c.id).then((r) => setSources(r.items)).catch(() => setSources([]));
    void store.getState().loadOperations(c.id).catch(() => undefined);
  }, [c.id, c.document_count, store]);

  return (
    <>
      {c.status_reason && <p className="notice notice-info">{c.status_reason}</p>}
      {active.map((op) => (
        <div key={op.id} className="card">
          <h2 className="h3">Running: {op.type}</h2>
          <ProgressBar op={op} label={`${c.name}: ${op.type} progress`} />
        </div>
      ))}
      <dl className="stats wide">
        <div><dt>Documents</dt><dd>{formatCount(c.document_count)}</dd></div>
        <div><dt>Chunks</dt><dd>{formatCount(c.chunk_count)}</dd></div>
        <div><dt>Vectors</dt><dd>{formatCount(c.vector_count)}</dd></div>
        <div><dt>Size</dt><dd>{formatBytes(c.size_bytes ?? 0)}</dd></div>
      </dl>
      <dl className="facts">
        <dt>Model</dt>
        <dd>
          {c.model_name} ({c.model_dimension} dimensions
          {c.embed_precision ? `, vectors in ${c.embed_precision}` : ""})
        </dd>
        <dt>Chunking</dt><dd>{c.chunk_size} tokens, {c.chunk_overlap} overlap</dd>
        <dt>Description</dt><dd>{c.description || "—"}</dd>
        <dt>Created</dt><dd>{new Date(c.created_at).toLocaleString()}</dd>
      </dl>
      <h2 className="h3">Sources</h2>
      {sources === null ? (
        <p className="muted">Loading…</p>
      ) : sources.length === 0 ? (
        <p className="muted">
          {editable ? "No data yet: use “Add data” to index a folder or upload a file." : "No data yet."}
        </p>
      ) : (
        <ul className="sources">
          {sources.map((s) => (
            <li key={s.id}>
              <span className="mono">{s.path}</span> <span className="muted">({s.kind})</span>
              {s.text_columns.length > 0 && <span className="muted"> · embeds {s.text_columns.join(", ")}</span>}
              {editable && (
                <>
                  {" "}
                  <button type="button" className="link" aria-label={`Remove source ${s.path}`} onClick={() => setRemoving(s)}>
                    Remove
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      {removing && (
        <RemoveSourceDialog
          collection={c}
          source={removing}
          onClose={() => setRemoving(null)}
          onRemoved={() => {
            setSources((list) => (list ?? []).filter((s) => s.id !== removing.id));
            setRemoving(null);
          }}
        />
      )}
    </>
  );
}

function OperationsTab({ collection: c }: { collection: Collection }) {
  const ops = useCollectionOperations(c.id);
  const load = useApp((s) => s.loadOperations);
  const cancel = useApp((s) => s.cancelOperation);
  useEffect(() => {
    void load(c.id).catch(() => undefined);
  }, [c.id, load]);
  if (ops.length === 0) return <p className="muted">No operations yet.</p>;
  return (
    <ul className="operations" aria-label="Operations">
      {ops.map((op) => (
        <li key={op.id} className="card" data-testid={`operation-${op.status}`}>
          <div className="card-head">
            <h2 className="h3">{op.type}</h2>
            <StatusBadge status={op.status} />
          </div>
          {isActive(op) || isQueued(op) ? (
            <>
              {isQueued(op) ? (
                <p className="muted">{queueText(op)}</p>
              ) : (
                <ProgressBar op={op} label={`${c.name}: ${op.type} progress`} />
              )}
              {canEdit(c) && (
                <button type="button" onClick={() => void cancel(op.id).catch(() => undefined)}>
                  Cancel
                </button>
              )}
            </>
          ) : (
            <p className="muted">
              {op.status === "completed" && `${formatCount(op.processed)} chunks embedded`}
              {op.skipped > 0 && ` · ${op.skipped} skipped`}
              {op.failed > 0 && ` · ${op.failed} failed`}
              {op.error && ` · ${op.error}`}
              {op.completed_at && ` · ended ${new Date(op.completed_at).toLocaleString()}`}
            </p>
          )}
          {op.failures.length > 0 && (
            <details>
              <summary>
                {op.failures.length === 1 ? "1 file" : `${op.failures.length} files`} could not be indexed
              </summary>
              <ul>
                {op.failures.map((f) => (
                  <li key={f.path}>
                    <span className="mono">{f.path}</span>: {f.reason}
                  </li>
                ))}
              </ul>
            </details>
          )}
        </li>
      ))}
    </ul>
  );
}
