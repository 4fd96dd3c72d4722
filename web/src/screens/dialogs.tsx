import { useEffect, useState, type FormEvent } from "react";
import { useApp, useAppStore } from "../context";
import { Dialog } from "../components/Dialog";
import { Notice } from "../components/bits";
import { message } from "../lib/action";
import { isRecordFile, readColumns } from "../lib/columns";
import { columnSets, remember, uploadFiles, type ColumnSet } from "../lib/sourcesApi";
import type { Collection, ColumnChoice, SourcePreview } from "../lib/types";

function optionalInt(value: string): number | undefined {
  return value.trim() === "" ? undefined : Number(value);
}

export function CreateCollectionDialog({ onClose }: { onClose(): void }) {
  const create = useApp((s) => s.createCollection);
  const navigate = useApp((s) => s.navigate);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [model, setModel] = useState("");
  const [chunkSize, setChunkSize] = useState("");
  const [overlap, setOverlap] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const c = await create({
        name: name.trim(),
        description: description.trim() || undefined,
        model_name: model.trim() || undefined,
        chunk_size: optionalInt(chunkSize),
        chunk_overlap: optionalInt(overlap),
      });
      onClose();
      navigate({ name: "collection", id: c.id, tab: "overview" });
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog title="Create a collection" onClose={onClose}>
      <form className="form" onSubmit={submit}>
        <label>
          Name
          <input required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Description <span className="muted">(optional)</span>
          <textarea rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <details>
          <summary>Advanced settings</summary>
          <label>
            Embedding model <span className="muted">(default: sentence-transformers/all-MiniLM-L6-v2)</span>
            <input value={model} onChange={(e) => setModel(e.target.value)} placeholder="model name" />
          </label>
          <div className="row">
            <label>
              Chunk size (tokens)
              <input type="number" min={16} inputMode="numeric" value={chunkSize} placeholder="256" onChange={(e) => setChunkSize(e.target.value)} />
            </label>
            <label>
              Chunk overlap (tokens)
              <input type="number" min={0} inputMode="numeric" value={overlap} placeholder="25" onChange={(e) => setOverlap(e.target.value)} />
            </label>
          </div>
        </details>
        {error && <Notice kind="error" text={error} />}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || !name.trim()}>
            Create
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function splitNames(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Which columns are embedded, kept as context, or identify a row. */
export function ColumnPicker(props: {
  columns: string[] | null;
  value: ColumnChoice;
  onChange(value: ColumnChoice): void;
}) {
  const { columns, value, onChange } = props;
  if (columns === null || columns.length === 0) {
    return (
      <fieldset className="columns">
        <legend>Columns (record files)</legend>
        <p className="muted">
          {columns === null
            ? "The columns are checked on the server when the source is added."
            : "No columns could be read from this file's first line."}{" "}
          Name them, separated by commas, or leave empty to embed every column.
        </p>
        <label>
          Text columns (embedded)
          <input value={value.text_columns.join(", ")} onChange={(e) => onChange({ ...value, text_columns: splitNames(e.target.value) })} />
        </label>
        <label>
          Context columns (kept with each result, filterable)
          <input value={value.context_columns.join(", ")} onChange={(e) => onChange({ ...value, context_columns: splitNames(e.target.value) })} />
        </label>
        <label>
          Id column
          <input value={value.id_column ?? ""} onChange={(e) => onChange({ ...value, id_column: e.target.value.trim() || null })} />
        </label>
      </fieldset>
    );
  }
  const toggle = (list: "text_columns" | "context_columns", name: string) => {
    const current = value[list];
    const next = current.includes(name) ? current.filter((c) => c !== name) : [...current, name];
    onChange({ ...value, [list]: next });
  };
  return (
    <fieldset className="columns">
      <legend>Columns found ({columns.length})</legend>
      <p className="muted">Tick what to embed; with none ticked every other column is embedded.</p>
      <table className="column-table">
        <thead>
          <tr>
            <th scope="col">Column</th>
            <th scope="col">Embed</th>
            <th scope="col">Context</th>
          </tr>
        </thead>
        <tbody>
          {columns.map((c) => (
            <tr key={c}>
              <th scope="row">{c}</th>
              <td>
                <input type="checkbox" aria-label={`Embed ${c}`} checked={value.text_columns.includes(c)} onChange={() => toggle("text_columns", c)} />
              </td>
              <td>
                <input type="checkbox" aria-label={`Keep ${c} as context`} checked={value.context_columns.includes(c)} onChange={() => toggle("context_columns", c)} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <label>
        Id column
        <select value={value.id_column ?? ""} onChange={(e) => onChange({ ...value, id_column: e.target.value || null })}>
          <option value="">(row number)</option>
          {columns.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </label>
    </fieldset>
  );
}

const NO_COLUMNS: ColumnChoice = { text_columns: [], context_columns: [], id_column: null };

export function AddDataDialog({ collection, onClose }: { collection: Collection; onClose(): void }) {
  const addData = useApp((s) => s.addData);
  const navigate = useApp((s) => s.navigate);
  const store = useAppStore();
  const [mode, setMode] = useState<"path" | "upload">("path");
  const [path, setPath] = useState("");
  const [preview, setPreview] = useState<SourcePreview | null>(null);
  const [checking, setChecking] = useState(false);
  const [files, setFiles] = useState<File[]>([]);
  const [keepVersions, setKeepVersions] = useState(false);
  const [refused, setRefused] = useState<string[]>([]);
  const [sets, setSets] = useState<ColumnSet[]>([]);
  const [useSet, setUseSet] = useState("");
  useEffect(() => {
    void columnSets(store.api, collection.id).then(setSets).catch(() => setSets([]));
  }, [collection.id, store]);
  const [columns, setColumns] = useState<string[] | null>(null);
  const [choice, setChoice] = useState<ColumnChoice>(NO_COLUMNS);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const record = mode === "path" ? isRecordFile(path) : files.some((f) => isRecordFile(f.name));

  async function chooseFiles(chosen: File[]) {
    setFiles(chosen);
    setChoice(NO_COLUMNS);
    setColumns(null);
    setRefused([]);
    // The columns offered are the first table's; the server checks each file's.
    const table = chosen.find((f) => isRecordFile(f.name));
    if (table) setColumns(await readColumns(table));
  }

  async function checkPath() {
    setChecking(true);
    setError(null);
    setPreview(null);
    try {
      const found = await store.api.previewSource(collection.id, path.trim());
      setPreview(found);
      setChoice(NO_COLUMNS);
    } catch (err) {
      setError(message(err));
    } finally {
      setChecking(false);
    }
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setRefused([]);
    try {
      if (mode === "path") {
        await addData(collection.id, { path: path.trim() }, record ? choice : NO_COLUMNS);
      } else {
        const answers = await uploadFiles(store.api, collection.id, files, record ? choice : NO_COLUMNS, keepVersions, record ? useSet : "");
        for (const a of answers) remember(store, a.operation);
        const failed = answers.filter((a) => a.error).map((a) => `${a.filename}: ${a.error?.detail ?? ""}`);
        if (failed.length) {
          setRefused(failed);
          setFiles(files.filter((f) => answers.some((a) => a.error && a.filename === f.name)));
          return;
        }
      }
      onClose();
      navigate({ name: "collection", id: collection.id, tab: "operations" });
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog title={`Add data to ${collection.name}`} onClose={onClose} wide>
      <form className="form" onSubmit={submit}>
        <fieldset className="segmented">
          <legend>Where the data is</legend>
          <label>
            <input type="radio" name="mode" checked={mode === "path"} onChange={() => setMode("path")} />
            A folder or file on the server
          </label>
          <label>
            <input type="radio" name="mode" checked={mode === "upload"} onChange={() => setMode("upload")} />
            Upload files
          </label>
        </fieldset>
        {mode === "path" ? (
          <div className="path-row">
            <label className="grow">
              Server path
              <input
                required
                value={path}
                placeholder="/srv/docs/handbook"
                onChange={(e) => {
                  setPath(e.target.value);
                  setPreview(null);
                }}
              />
              <span className="hint">A folder is read with everything under it; it must lie under the server's source roots.</span>
            </label>
            <button type="button" onClick={() => void checkPath()} disabled={checking || !path.trim()}>
              {record ? "Read its columns" : "Check path"}
            </button>
          </div>
        ) : (
          <>
            <label>
              Files
              <input type="file" multiple onChange={(e) => void chooseFiles(Array.from(e.target.files ?? []))} />
              <span className="hint">Documents (txt, md, html, pdf, docx, …) or tables (csv, tsv, jsonl, json, parquet, xlsx); several at once.</span>
            </label>
            <label className="inline">
              <input type="checkbox" checked={keepVersions} onChange={(e) => setKeepVersions(e.target.checked)} />
              Keep as a separate source (a name the collection has becomes its next version otherwise)
            </label>
          </>
        )}
        {mode === "path" && preview && (
          <p className="notice notice-info" role="status">
            {preview.kind === "directory" ? "A folder" : "A file"} on the server: <span className="mono">{preview.path}</span>
          </p>
        )}
        {record && mode === "upload" && sets.length > 0 && (
          <label>
            Columns from a saved set
            <select value={useSet} onChange={(e) => setUseSet(e.target.value)}>
              <option value="">(choose columns below)</option>
              {sets.map((x) => (
                <option key={x.name} value={x.name}>
                  {x.name}: {x.text_columns.join(", ")}
                </option>
              ))}
            </select>
          </label>
        )}
        {record && !(mode === "upload" && useSet) && (
          <ColumnPicker
            columns={mode === "upload" ? columns : preview && preview.columns.length > 0 ? preview.columns : null}
            value={choice}
            onChange={setChoice}
          />
        )}
        {error && <Notice kind="error" text={error} />}
        {refused.length > 0 && (
          <div className="notice notice-error" role="alert">
            <span>Not added (the others are):</span>
            <ul>
              {refused.map((r) => (
                <li key={r}>{r}</li>
              ))}
            </ul>
          </div>
        )}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || (mode === "path" ? !path.trim() : files.length === 0)}>
            Add and index
          </button>
        </div>
      </form>
    </Dialog>
  );
}
