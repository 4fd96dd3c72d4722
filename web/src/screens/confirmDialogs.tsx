import { useState, type FormEvent } from "react";
import { useApp } from "../context";
import { Dialog } from "../components/Dialog";
import { Notice } from "../components/bits";
import { message } from "../lib/action";
import { confirms } from "../lib/text";
import type { Collection } from "../lib/types";

/** A destructive action confirmed by typing the collection's name. */
function TypedConfirmation(props: { name: string; value: string; onChange(v: string): void }) {
  return (
    <label>
      <span>
        Type <strong className="mono">{props.name}</strong> to confirm
      </span>
      <input autoComplete="off" spellCheck={false} value={props.value} onChange={(e) => props.onChange(e.target.value)} />
    </label>
  );
}

export interface ReindexChange {
  model_name?: string;
  chunk_size?: number;
  chunk_overlap?: number;
}

export function ReindexDialog(props: { collection: Collection; change: ReindexChange; onClose(): void }) {
  const { collection: c, change } = props;
  const reindex = useApp((s) => s.reindex);
  const navigate = useApp((s) => s.navigate);
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // A new chunk size without an overlap gets the server's overlap for that size.
  const overlap =
    change.chunk_overlap ?? (change.chunk_size !== undefined ? "the default for the new size" : undefined);
  const rows: [string, string | number, string | number | undefined][] = [
    ["Embedding model", c.model_name, change.model_name],
    ["Chunk size", c.chunk_size, change.chunk_size],
    ["Chunk overlap", c.chunk_overlap, overlap],
  ];

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await reindex(c.id, change);
      props.onClose();
      navigate({ name: "collection", id: c.id, tab: "operations" });
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog title={`Reindex ${c.name}`} onClose={props.onClose}>
      <form className="form" onSubmit={submit}>
        <table className="compare">
          <thead>
            <tr>
              <th scope="col">Setting</th>
              <th scope="col">Now</th>
              <th scope="col">After reindex</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([label, now, next]) => (
              <tr key={label} className={next !== undefined && next !== now ? "changed" : ""}>
                <th scope="row">{label}</th>
                <td>{now}</td>
                <td>{next ?? now}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p>
          Every document is read and embedded again into a new generation. Search keeps answering
          from the current one until the new one is complete and checked, then switches at once.
          On a large collection this takes as long as the first indexing did.
        </p>
        <TypedConfirmation name={c.name} value={typed} onChange={setTyped} />
        {error && <Notice kind="error" text={error} />}
        <div className="actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="danger" disabled={busy || !confirms(typed, c.name)}>
            Reindex
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function DeleteDialog({ collection: c, onClose }: { collection: Collection; onClose(): void }) {
  const remove = useApp((s) => s.deleteCollection);
  const navigate = useApp((s) => s.navigate);
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      await remove(c.id);
      onClose();
      navigate({ name: "dashboard" });
    } catch (err) {
      setError(message(err));
    }
  }

  return (
    <Dialog title={`Delete ${c.name}`} onClose={onClose}>
      <form className="form" onSubmit={submit}>
        <p>
          The collection, its {c.document_count} documents and their vectors are deleted. The files
          in its sources are not touched.
        </p>
        <TypedConfirmation name={c.name} value={typed} onChange={setTyped} />
        {error && <Notice kind="error" text={error} />}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="danger" disabled={!confirms(typed, c.name)}>
            Delete collection
          </button>
        </div>
      </form>
    </Dialog>
  );
}
