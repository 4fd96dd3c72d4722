import { useState } from "react";
import { useApp } from "../context";
import { Notice } from "../components/bits";
import { canEdit, isOwner, roleOf } from "../lib/roles";
import type { Collection } from "../lib/types";
import { DeleteDialog, ReindexDialog, type ReindexChange } from "./confirmDialogs";

export function SettingsTab({ collection: c }: { collection: Collection }) {
  if (!canEdit(c)) {
    return (
      <p className="muted">
        You can view and search this collection (your role: {roleOf(c)}). Its owner or an editor
        changes its data and settings.
      </p>
    );
  }
  return (
    <>
      {isOwner(c) && <NameForm collection={c} />}
      <ReindexForm collection={c} />
      {isOwner(c) && <DangerZone collection={c} />}
    </>
  );
}

function NameForm({ collection: c }: { collection: Collection }) {
  const update = useApp((s) => s.updateCollection);
  const [name, setName] = useState(c.name);
  const [description, setDescription] = useState(c.description);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const body: { name?: string; description?: string } = {};
  if (name.trim() && name.trim() !== c.name) body.name = name.trim();
  if (description.trim() !== c.description) body.description = description.trim();
  const changed = Object.keys(body).length > 0;
  return (
    <form
      className="form card"
      aria-labelledby="name-title"
      onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        setSaved(false);
        update(c.id, body).then(
          () => setSaved(true),
          (err: unknown) => setError(err instanceof Error ? err.message : String(err)),
        );
      }}
    >
      <h2 className="h3" id="name-title">Name and description</h2>
      <label>
        Collection name
        <input required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      <label>
        Description
        <textarea rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      {error && <Notice kind="error" text={error} />}
      {saved && !changed && <p className="muted" role="status">Saved.</p>}
      <div className="actions">
        <button type="submit" disabled={!changed}>
          Save
        </button>
      </div>
    </form>
  );
}

function ReindexForm({ collection: c }: { collection: Collection }) {
  const [model, setModel] = useState(c.model_name);
  const [size, setSize] = useState(String(c.chunk_size));
  const [overlap, setOverlap] = useState(String(c.chunk_overlap));
  const [confirming, setConfirming] = useState(false);
  const change: ReindexChange = {};
  if (model.trim() && model.trim() !== c.model_name) change.model_name = model.trim();
  if (Number(size) !== c.chunk_size && size !== "") change.chunk_size = Number(size);
  if (Number(overlap) !== c.chunk_overlap && overlap !== "") change.chunk_overlap = Number(overlap);
  const changed = Object.keys(change).length > 0;
  return (
    <>
      <form className="form card" onSubmit={(e) => { e.preventDefault(); setConfirming(true); }}>
        <h2 className="h3">Model and chunking</h2>
        <p className="muted">Changing these rebuilds the collection's vectors (a reindex) while search goes on.</p>
        <label>
          Embedding model
          <input value={model} onChange={(e) => setModel(e.target.value)} />
        </label>
        <div className="row">
          <label>
            Chunk size (tokens)
            <input type="number" min={16} value={size} onChange={(e) => setSize(e.target.value)} />
          </label>
          <label>
            Chunk overlap (tokens)
            <input type="number" min={0} value={overlap} onChange={(e) => setOverlap(e.target.value)} />
          </label>
        </div>
        <div className="actions">
          <button type="submit" className="primary" disabled={!changed}>
            Reindex with these settings…
          </button>
        </div>
      </form>
      {confirming && <ReindexDialog collection={c} change={change} onClose={() => setConfirming(false)} />}
    </>
  );
}

function DangerZone({ collection: c }: { collection: Collection }) {
  const [confirming, setConfirming] = useState(false);
  return (
    <section className="card danger-zone" aria-labelledby="danger-title">
      <h2 className="h3" id="danger-title">Delete this collection</h2>
      <p className="muted">Its documents and vectors go; the files in its sources stay.</p>
      <button type="button" className="danger" onClick={() => setConfirming(true)}>
        Delete collection…
      </button>
      {confirming && <DeleteDialog collection={c} onClose={() => setConfirming(false)} />}
    </section>
  );
}
