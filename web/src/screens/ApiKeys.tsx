import { useCallback, useEffect, useState, type FormEvent } from "react";
import { useApp, useAppStore } from "../context";
import { ConfirmAction, CopyField, Notice, Table } from "../components/bits";
import { message, useAction } from "../lib/action";
import type { ApiKey, NewApiKey, Scope } from "../lib/types";

const SCOPES: { value: Scope; label: string }[] = [
  { value: "search", label: "search: list, get and search collections" },
  { value: "read", label: "read: every read, and live events" },
  { value: "write", label: "write: read, and change what your role allows" },
];

/** Keys for scripts and downstream systems, acting as their owner (SPEC §11). */
export function ApiKeys() {
  const store = useAppStore();
  const collections = useApp((s) => s.collections);
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [created, setCreated] = useState<NewApiKey | null>(null);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["search"]);
  const [restrict, setRestrict] = useState(false);
  const [chosen, setChosen] = useState<string[]>([]);
  const [days, setDays] = useState("");
  const { error, setError, busy, run: act } = useAction();
  const all = Object.values(collections).sort((a, b) => a.name.localeCompare(b.name));

  const reload = useCallback(
    () => store.api.apiKeys().then(setKeys, (e: unknown) => setError(message(e))),
    [store],
  );
  useEffect(() => {
    void reload();
  }, [reload]);

  function create(e: FormEvent) {
    e.preventDefault();
    void act(async () => {
      const key = await store.api.createApiKey({
        name: name.trim(),
        scopes,
        collection_ids: restrict ? chosen : null,
        expires_in_days: days.trim() ? Number(days) : null,
      });
      setCreated(key);
      setName("");
      setRestrict(false);
      setChosen([]);
      setDays("");
      await reload();
    });
  }

  const revoke = (k: ApiKey) =>
    void act(async () => {
      await store.api.deleteApiKey(k.id);
      if (created?.id === k.id) setCreated(null);
      await reload();
    });

  const toggle = <T,>(list: T[], item: T) => (list.includes(item) ? list.filter((x) => x !== item) : [...list, item]);
  const collectionNames = (ids: string[] | null) =>
    ids === null ? "all you can reach" : ids.map((id) => collections[id]?.name ?? id).join(", ") || "none";

  return (
    <main id="main" className="page">
      <div className="page-head">
        <h1>API keys</h1>
      </div>
      <p className="muted">
        A key lets a script or another system use Semantik as you, limited to its scopes and
        collections. Send it as <span className="mono">Authorization: Bearer &lt;key&gt;</span>.
      </p>
      {created && (
        <section className="notice notice-warning secret" aria-labelledby="new-key-title">
          <h2 id="new-key-title" className="h3">
            Your new key “{created.name}”
          </h2>
          <p>
            <strong>Copy it now: it is shown only this once.</strong> Semantik keeps only a hash of
            it; if it is lost, revoke it and create another.
          </p>
          <CopyField label="API key" value={created.key} />
          <div className="actions">
            <button type="button" onClick={() => setCreated(null)}>
              I have copied it
            </button>
          </div>
        </section>
      )}
      <form className="form card" onSubmit={create} aria-labelledby="create-key-title">
        <h2 id="create-key-title" className="h3">
          Create a key
        </h2>
        <label>
          Key name
          <input required maxLength={200} placeholder="e.g. nightly report" value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <fieldset>
          <legend>Scopes</legend>
          {SCOPES.map((s) => (
            <label key={s.value} className="inline">
              <input type="checkbox" checked={scopes.includes(s.value)} onChange={() => setScopes(toggle(scopes, s.value))} />
              {s.label}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Collections</legend>
          <label className="inline">
            <input type="checkbox" checked={restrict} onChange={(e) => setRestrict(e.target.checked)} />
            Only some collections
          </label>
          {restrict &&
            (all.length === 0 ? (
              <p className="muted">You have no collections.</p>
            ) : (
              <div className="pick">
                {all.map((c) => (
                  <label key={c.id} className="inline">
                    <input type="checkbox" aria-label={`Allow ${c.name}`} checked={chosen.includes(c.id)} onChange={() => setChosen(toggle(chosen, c.id))} />
                    {c.name}
                  </label>
                ))}
              </div>
            ))}
        </fieldset>
        <label>
          <span>
            Expires after (days) <span className="muted">(optional; empty: never)</span>
          </span>
          <input type="number" min={1} inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value)} />
        </label>
        {error && <Notice kind="error" text={error} />}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy || !name.trim() || scopes.length === 0 || (restrict && chosen.length === 0)}>
            Create key
          </button>
        </div>
      </form>
      <h2>Your keys</h2>
      {keys === null ? (
        <p className="muted">Loading…</p>
      ) : keys.length === 0 ? (
        <p className="muted">No keys yet.</p>
      ) : (
        <Table label="Your keys" columns={["Name", "Scopes", "Collections", "Expires", "Created"]}>
              {keys.map((k) => (
                <tr key={k.id} data-testid={`key-${k.name}`}>
                  <th scope="row">{k.name}</th>
                  <td>{k.scopes.join(", ")}</td>
                  <td>{collectionNames(k.collection_ids)}</td>
                  <td>{k.expires_at ? new Date(k.expires_at).toLocaleDateString() : "never"}</td>
                  <td>{new Date(k.created_at).toLocaleDateString()}</td>
                  <td>
                    <div className="row-actions">
                      <ConfirmAction verb="Revoke" target={k.name} busy={busy} onConfirm={() => revoke(k)} />
                    </div>
                  </td>
                </tr>
              ))}
        </Table>
      )}
    </main>
  );
}
