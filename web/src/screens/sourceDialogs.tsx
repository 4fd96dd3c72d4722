import { useEffect, useState, type FormEvent } from "react";
import { useAppStore } from "../context";
import { Dialog } from "../components/Dialog";
import { Notice } from "../components/bits";
import { message, useAction } from "../lib/action";
import { applyColumnSet, changeColumns, columnSets, saveColumnSet, type ColumnSet } from "../lib/sourcesApi";
import { confirms } from "../lib/text";
import type { Collection, ColumnChoice, Operation, Source } from "../lib/types";
import { ColumnPicker } from "./dialogs";

function sameColumns(a: ColumnChoice, b: ColumnChoice): boolean {
  const same = (x: string[], y: string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return same(a.text_columns, b.text_columns) && same(a.context_columns, b.context_columns) && a.id_column === b.id_column;
}

/**
 * New columns for a record source: its rows are embedded again beside the old ones, and
 * search switches once all are (staged). A saved set of the collection can be restored
 * into the form, and the form saved as a set.
 */
export function EditColumnsDialog(props: {
  collection: Collection;
  source: Source;
  onClose(): void;
  onStarted(source: Source, operation: Operation | null): void;
}) {
  const { collection: c, source: s } = props;
  const store = useAppStore();
  const [choice, setChoice] = useState<ColumnChoice>({
    text_columns: s.text_columns,
    context_columns: s.context_columns,
    id_column: s.id_column,
  });
  const [columns, setColumns] = useState<string[] | null>(null);
  const [sets, setSets] = useState<ColumnSet[]>([]);
  const [restored, setRestored] = useState<ColumnSet | null>(null);
  const [setName, setSetName] = useState("");
  const [saved, setSaved] = useState<string | null>(null);
  const { error, busy, run } = useAction();

  useEffect(() => {
    void columnSets(store.api, c.id).then(setSets).catch(() => setSets([]));
    // An upload's columns are not on the server's disk to preview: they are named instead.
    if (s.kind !== "upload") {
      void store.api
        .previewSource(c.id, s.path)
        .then((p) => setColumns(p.columns.length ? p.columns : null))
        .catch(() => setColumns(null));
    }
  }, [c.id, s.kind, s.path, store]);

  function restore(name: string) {
    const set = sets.find((x) => x.name === name) ?? null;
    setRestored(set);
    if (set) setChoice({ text_columns: set.text_columns, context_columns: set.context_columns, id_column: set.id_column });
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    await run(async () => {
      if (restored && sameColumns(choice, restored)) {
        const [started] = await applyColumnSet(store.api, c.id, [s.id], restored.name);
        props.onStarted(started.source, started.operation);
      } else {
        const answer = await changeColumns(store.api, c.id, s.id, choice);
        props.onStarted(answer.source, answer.operation);
      }
    });
  }

  async function save() {
    const name = setName.trim();
    setSaved(null);
    const ok = await run(async () => {
      const set = await saveColumnSet(store.api, c.id, name, choice);
      setSets((list) => [...list.filter((x) => x.name !== set.name), set].sort((a, b) => a.name.localeCompare(b.name)));
    });
    if (ok) setSaved(`Saved as “${name}”.`);
  }

  return (
    <Dialog title={`Columns of ${s.path}`} onClose={props.onClose} wide>
      <form className="form" onSubmit={(e) => void submit(e)}>
        <label>
          Restore a saved set
          <select value={restored?.name ?? ""} onChange={(e) => restore(e.target.value)}>
            <option value="">{sets.length ? "(choose a set)" : "(no saved sets)"}</option>
            {sets.map((x) => (
              <option key={x.name} value={x.name}>
                {x.name}: {x.text_columns.join(", ")}
              </option>
            ))}
          </select>
        </label>
        <ColumnPicker columns={columns} value={choice} onChange={setChoice} />
        <div className="path-row">
          <label className="grow">
            Save these columns as a set
            <input value={setName} maxLength={100} placeholder="set name" onChange={(e) => setSetName(e.target.value)} />
          </label>
          <button type="button" disabled={busy || !setName.trim() || choice.text_columns.length === 0} onClick={() => void save()}>
            Save set
          </button>
        </div>
        {saved && <p role="status" className="muted">{saved}</p>}
        <p className="hint">
          The rows are embedded again beside the old ones; search keeps the old rows until every new one is written.
        </p>
        {error && <Notice kind="error" text={error} />}
        <div className="actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || choice.text_columns.length === 0}>
            Re-embed
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** Removal of a source and its documents, once its path is typed. */
export function RemoveSourceDialog(props: {
  collection: Collection;
  source: Source;
  onClose(): void;
  onRemoved(operation: Operation): void;
}) {
  const { collection: c, source: s } = props;
  const store = useAppStore();
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onRemoved(await store.getState().removeSource(c.id, s.id));
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog title="Remove a source" onClose={props.onClose}>
      <form className="form" onSubmit={(e) => void submit(e)}>
        <p>
          Its documents leave <strong>{c.name}</strong> and its search results. The files themselves are not touched.
        </p>
        <label>
          Type <span className="mono">{s.path}</span> to confirm
          <input value={typed} autoComplete="off" onChange={(e) => setTyped(e.target.value)} />
        </label>
        {error && <Notice kind="error" text={error} />}
        <div className="actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="danger" disabled={busy || !confirms(typed, s.path)}>
            Remove source and its documents
          </button>
        </div>
      </form>
    </Dialog>
  );
}
