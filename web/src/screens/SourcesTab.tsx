import { useCallback, useEffect, useState } from "react";
import { useApp, useAppStore } from "../context";
import { Notice } from "../components/bits";
import { message } from "../lib/action";
import { isRecordFile } from "../lib/columns";
import { queueText } from "../lib/queue";
import { canEdit } from "../lib/roles";
import { changeSync, remember, rescan, sourceTotals, type SourceTotals } from "../lib/sourcesApi";
import { formatBytes, formatCount } from "../lib/text";
import type { Collection, Operation, Source, SourceSync } from "../lib/types";
import { EditColumnsDialog, RemoveSourceDialog } from "./sourceDialogs";

const NO_SYNC: SourceSync = { watch: false, interval_minutes: null };

function when(at: string | null | undefined): string {
  return at ? new Date(at).toLocaleString() : "never";
}

/** "watching, every 60 min", "watching", "every 60 min" or "off". */
export function syncText(sync: SourceSync): string {
  const parts = [];
  if (sync.watch) parts.push("watching");
  if (sync.interval_minutes !== null) parts.push(`every ${sync.interval_minutes} min`);
  return parts.length ? parts.join(", ") : "off";
}

export function SourcesTab({ collection: c }: { collection: Collection }) {
  const store = useAppStore();
  const [sources, setSources] = useState<Source[] | null>(null);
  const [totals, setTotals] = useState<{ totals: Record<string, SourceTotals>; complete: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<Source | null>(null);
  const [removing, setRemoving] = useState<Source | null>(null);
  // Operations started here, by source: their place in the queue shows beside the source.
  const [started, setStarted] = useState<Record<string, string>>({});
  const operations = useApp((s) => s.operations);
  const ended = Object.values(operations).filter(
    (o) => o.collection_id === c.id && ["completed", "failed", "cancelled"].includes(o.status),
  ).length;

  const load = useCallback(() => {
    store.api
      .sources(c.id)
      .then((r) => setSources(r.items))
      .catch((e: unknown) => setError(message(e)));
    sourceTotals(store.api, c.id)
      .then(setTotals)
      .catch(() => setTotals(null));
  }, [c.id, store]);
  // Again whenever the collection changes (a watcher's or a schedule's operation ended).
  useEffect(load, [load, c.document_count, c.updated_at, c.status, ended]);

  const replace = (changed: Source) => setSources((list) => (list ?? []).map((s) => (s.id === changed.id ? changed : s)));
  const track = (sourceId: string, op: Operation | null | undefined) => {
    if (!op) return;
    remember(store, op);
    setStarted((m) => ({ ...m, [sourceId]: op.id }));
  };

  async function act(action: () => Promise<void>) {
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(message(e));
    }
  }

  if (sources === null) return error ? <Notice kind="error" text={error} /> : <p className="muted">Loading…</p>;
  const editable = canEdit(c);
  return (
    <>
      {error && <Notice kind="error" text={error} onClose={() => setError(null)} />}
      {sources.length === 0 && <p className="muted">No sources yet.</p>}
      <ul className="source-list" aria-label="Sources">
        {sources.map((s) => (
          <SourceCard
            key={s.id}
            source={s}
            totals={totals ? (totals.totals[s.id] ?? { documents: 0, bytes: 0 }) : null}
            partial={totals !== null && !totals.complete}
            editable={editable}
            operation={started[s.id] ? operations[started[s.id]] : undefined}
            onRescan={() => act(async () => track(s.id, await rescan(store.api, c.id, s.id)))}
            onSync={(sync) => act(async () => replace(await changeSync(store.api, c.id, s.id, sync)))}
            onEditColumns={() => setEditing(s)}
            onRemove={() => setRemoving(s)}
          />
        ))}
      </ul>
      {editing && (
        <EditColumnsDialog
          collection={c}
          source={editing}
          onClose={() => setEditing(null)}
          onStarted={(source, op) => {
            replace(source);
            track(source.id, op);
            setEditing(null);
          }}
        />
      )}
      {removing && (
        <RemoveSourceDialog
          collection={c}
          source={removing}
          onClose={() => setRemoving(null)}
          onRemoved={(op) => {
            track(removing.id, op);
            setSources((list) => (list ?? []).filter((x) => x.id !== removing.id));
            setRemoving(null);
          }}
        />
      )}
    </>
  );
}

function SourceCard(props: {
  source: Source;
  totals: SourceTotals | null;
  partial: boolean;
  editable: boolean;
  operation: Operation | undefined;
  onRescan(): Promise<void>;
  onSync(sync: SourceSync): Promise<void>;
  onEditColumns(): void;
  onRemove(): void;
}) {
  const { source: s, totals, operation: op } = props;
  const sync = s.sync ?? NO_SYNC;
  const versions = s.versions ?? [];
  const status = s.sync_status ?? "off";
  const [every, setEvery] = useState(sync.interval_minutes === null ? "" : String(sync.interval_minutes));
  const [busy, setBusy] = useState(false);
  const record = s.text_columns.length > 0 || (s.kind !== "directory" && isRecordFile(s.path));
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    try {
      await action();
    } finally {
      setBusy(false);
    }
  };
  const schedule = every.trim() === "" ? null : Number(every);
  const scheduleValid = schedule === null || (Number.isInteger(schedule) && schedule >= 1 && schedule <= 10080);
  return (
    <li className="card" data-testid={`source-${s.path}`} aria-label={`Source ${s.path}`}>
      <div className="card-head">
        <h2 className="h3 mono">{s.path}</h2>
        <span className={`badge badge-sync-${status}`} title="Sync status">
          sync {status}
        </span>
      </div>
      <dl className="facts">
        <dt>Kind</dt>
        <dd>{s.kind === "directory" ? "folder" : s.kind}</dd>
        <dt>Documents</dt>
        <dd>
          {totals ? `${props.partial ? "at least " : ""}${formatCount(totals.documents)}` : "—"}
        </dd>
        <dt>Size</dt>
        <dd>{totals ? formatBytes(totals.bytes) : "—"}</dd>
        {s.text_columns.length > 0 && (
          <>
            <dt>Embeds</dt>
            <dd>{s.text_columns.join(", ")}</dd>
          </>
        )}
        <dt>Sync</dt>
        <dd>{syncText(sync)}</dd>
        <dt>Last sync</dt>
        <dd data-testid="last-sync">{when(s.last_sync_at)}</dd>
        <dt>Next sync</dt>
        <dd>{s.next_sync_at ? when(s.next_sync_at) : "—"}</dd>
      </dl>
      {s.sync_reason && <Notice kind="error" text={s.sync_reason} />}
      {versions.length > 0 && (
        <details className="versions">
          <summary>{versions.length === 1 ? "1 version" : `${versions.length} versions`}</summary>
          <ol aria-label={`Versions of ${s.path}`}>
            {versions.map((v) => (
              <li key={v.version}>
                version {v.version} · {formatBytes(v.size)} · uploaded {when(v.uploaded_at)}
                {v.version === versions[versions.length - 1].version && " (indexed)"}
              </li>
            ))}
          </ol>
        </details>
      )}
      {op && (
        <p className="muted" role="status">
          {op.type}: {op.status === "queued" ? queueText(op) : op.status}
        </p>
      )}
      {props.editable && (
        <div className="source-actions">
          <button type="button" disabled={busy} onClick={() => void run(props.onRescan)} aria-label={`Re-scan ${s.path} now`}>
            Re-scan now
          </button>
          {record && (
            <button type="button" onClick={props.onEditColumns} aria-label={`Edit columns of ${s.path}`}>
              Edit columns
            </button>
          )}
          {s.kind !== "upload" && (
            <>
              <label className="inline">
                <input
                  type="checkbox"
                  checked={sync.watch}
                  disabled={busy}
                  onChange={(e) => void run(() => props.onSync({ ...sync, watch: e.target.checked }))}
                />
                Watch for changes
              </label>
              <label className="inline">
                Re-scan every (minutes)
                <input
                  type="number"
                  min={1}
                  max={10080}
                  inputMode="numeric"
                  className="narrow"
                  value={every}
                  placeholder="never"
                  onChange={(e) => setEvery(e.target.value)}
                />
              </label>
              <button
                type="button"
                disabled={busy || !scheduleValid || schedule === sync.interval_minutes}
                onClick={() => void run(() => props.onSync({ ...sync, interval_minutes: schedule }))}
              >
                Save schedule
              </button>
            </>
          )}
          <button type="button" className="danger" onClick={props.onRemove} aria-label={`Remove source ${s.path}…`}>
            Remove…
          </button>
        </div>
      )}
    </li>
  );
}
