import { useEffect, useState, type FormEvent } from "react";
import { useAppStore } from "../context";
import { Dialog } from "../components/Dialog";
import { Notice, PrincipalOptions, Table } from "../components/bits";
import { message, useAction } from "../lib/action";
import type { Access, Collection, Directory, Grant, GrantRole, PrincipalType } from "../lib/types";

const ROLE_HELP: Record<GrantRole, string> = {
  viewer: "Viewer: reads and searches it",
  editor: "Editor: also adds and removes data, reindexes",
};

/** Who may see and change a collection: its owner manages the grants (SPEC §11). */
export function ShareDialog({ collection: c, onClose }: { collection: Collection; onClose(): void }) {
  const store = useAppStore();
  const [access, setAccess] = useState<Access | null>(null);
  const [directory, setDirectory] = useState<Directory | null>(null);
  const [principal, setPrincipal] = useState("");
  const [role, setRole] = useState<GrantRole>("viewer");
  const { error, setError, busy, run: act } = useAction();

  useEffect(() => {
    store.api.access(c.id).then(setAccess, (e: unknown) => setError(message(e)));
    store.api.directory().then(setDirectory, (e: unknown) => setError(message(e)));
  }, [c.id, store]);

  const granted = new Set((access?.grants ?? []).map((g) => `${g.principal_type}:${g.principal_id}`));
  const users = (directory?.users ?? []).filter((u) => u.id !== access?.owner && !granted.has(`user:${u.id}`));
  const teams = (directory?.teams ?? []).filter((t) => !granted.has(`team:${t.id}`));

  function run(action: () => Promise<Access | null>): Promise<boolean> {
    return act(async () => setAccess((await action()) ?? (await store.api.access(c.id))));
  }

  function add(e: FormEvent) {
    e.preventDefault();
    const [type, id] = principal.split(":") as [PrincipalType, string];
    void run(() => store.api.grant(c.id, type, id, role)).then(() => setPrincipal(""));
  }

  const change = (g: Grant, next: GrantRole) => void run(() => store.api.grant(c.id, g.principal_type, g.principal_id, next));
  const revoke = (g: Grant) => void run(() => store.api.revoke(c.id, g.principal_type, g.principal_id));

  return (
    <Dialog title={`Share ${c.name}`} onClose={onClose} wide>
      <div className="form">
        {access === null && !error && <p className="muted">Loading…</p>}
        {access && (
          <Table label="People and teams with access" className="grants" scroll={false} columns={["Who", "Role"]}>
              <tr>
                <th scope="row">
                  {access.owner_name ?? access.owner} <span className="muted">(user)</span>
                </th>
                <td>owner</td>
                <td />
              </tr>
              {access.grants.map((g) => {
                const name = g.principal_name ?? g.principal_id;
                const who = `${name} (${g.principal_type})`;
                return (
                  <tr key={`${g.principal_type}:${g.principal_id}`} data-testid={`grant-${name}`}>
                    <th scope="row">
                      {name} <span className="muted">({g.principal_type})</span>
                    </th>
                    <td>
                      <select
                        aria-label={`Role of ${who}`}
                        value={g.role}
                        disabled={busy}
                        onChange={(e) => change(g, e.target.value as GrantRole)}
                      >
                        <option value="viewer">viewer</option>
                        <option value="editor">editor</option>
                      </select>
                    </td>
                    <td>
                      <button type="button" disabled={busy} aria-label={`Revoke ${who}`} onClick={() => revoke(g)}>
                        Revoke
                      </button>
                    </td>
                  </tr>
                );
              })}
          </Table>
        )}
        {access && access.grants.length === 0 && <p className="muted">Only you have access so far.</p>}
        <form className="share-add" onSubmit={add} aria-label="Give access">
          <label className="grow">
            Give access to
            <select required value={principal} onChange={(e) => setPrincipal(e.target.value)}>
              <option value="">Choose a person or team…</option>
              <PrincipalOptions users={users} teams={teams} usersLabel="People" />
            </select>
          </label>
          <label>
            As
            <select value={role} onChange={(e) => setRole(e.target.value as GrantRole)}>
              <option value="viewer">{ROLE_HELP.viewer}</option>
              <option value="editor">{ROLE_HELP.editor}</option>
            </select>
          </label>
          <button type="submit" className="primary" disabled={busy || !principal}>
            Share
          </button>
        </form>
        {error && <Notice kind="error" text={error} />}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Done
          </button>
        </div>
      </div>
    </Dialog>
  );
}
