import { useCallback, useEffect, useState, type FormEvent } from "react";
import { useAppStore } from "../context";
import { Notice, PrincipalOptions, Table } from "../components/bits";
import { useAction } from "../lib/action";
import type { SourceRoot, Team, UserRow } from "../lib/types";

export function Teams({ teams, users, onChange }: { teams: Team[] | null; users: UserRow[]; onChange(): Promise<void> }) {
  const store = useAppStore();
  const [name, setName] = useState("");
  const [adding, setAdding] = useState<Record<string, string>>({});
  const { error, busy, run } = useAction();

  async function create(e: FormEvent) {
    e.preventDefault();
    if (await run(() => store.api.createTeam(name.trim()))) {
      setName("");
      await onChange();
    }
  }

  async function add(team: Team) {
    const userId = adding[team.id];
    if (userId && (await run(() => store.api.addTeamMember(team.id, userId)))) {
      setAdding((a) => ({ ...a, [team.id]: "" }));
      await onChange();
    }
  }

  async function remove(team: Team, userId: string) {
    if (await run(() => store.api.removeTeamMember(team.id, userId))) await onChange();
  }

  return (
    <section className="card admin-section" aria-labelledby="teams-title">
      <h2 id="teams-title">Teams</h2>
      {teams === null ? (
        <p className="muted">Loading…</p>
      ) : teams.length === 0 ? (
        <p className="muted">No teams yet. A collection shared with a team is shared with each of its members.</p>
      ) : (
        <ul className="teams">
          {teams.map((t) => {
            const members = new Set(t.members.map((m) => m.id));
            const candidates = users.filter((u) => !members.has(u.id) && !u.disabled);
            return (
              <li key={t.id} className="team" data-testid={`team-${t.name}`}>
                <h3>{t.name}</h3>
                {t.members.length === 0 ? (
                  <p className="muted">No members.</p>
                ) : (
                  <ul className="members" aria-label={`Members of ${t.name}`}>
                    {t.members.map((m) => (
                      <li key={m.id}>
                        {m.username}{" "}
                        <button type="button" className="link" disabled={busy} aria-label={`Remove ${m.username} from ${t.name}`} onClick={() => void remove(t, m.id)}>
                          Remove
                        </button>
                      </li>
                    ))}
                  </ul>
                )}
                <form
                  className="inline-form"
                  onSubmit={(e) => {
                    e.preventDefault();
                    void add(t);
                  }}
                >
                  <label>
                    Add a member to {t.name}
                    <select value={adding[t.id] ?? ""} onChange={(e) => setAdding((a) => ({ ...a, [t.id]: e.target.value }))}>
                      <option value="">Choose a user…</option>
                      {candidates.map((u) => (
                        <option key={u.id} value={u.id}>
                          {u.username}
                        </option>
                      ))}
                    </select>
                  </label>
                  <button type="submit" disabled={busy || !adding[t.id]}>
                    Add
                  </button>
                </form>
              </li>
            );
          })}
        </ul>
      )}
      <form className="inline-form" onSubmit={create}>
        <label>
          Team name
          <input required value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <button type="submit" disabled={busy || !name.trim()}>
          Create team
        </button>
      </form>
      {error && <Notice kind="error" text={error} />}
    </section>
  );
}

export function SourceRoots({ teams, users }: { teams: Team[]; users: UserRow[] }) {
  const store = useAppStore();
  const [roots, setRoots] = useState<SourceRoot[] | null>(null);
  const [path, setPath] = useState("");
  const [grantee, setGrantee] = useState("");
  const { error, busy, run } = useAction();
  const reload = useCallback(() => run(async () => setRoots(await store.api.sourceRoots())), [run, store]);
  useEffect(() => {
    void reload();
  }, [reload]);

  const nameOf = (r: SourceRoot) => {
    if (r.user_id) return `${users.find((u) => u.id === r.user_id)?.username ?? r.user_id} (user)`;
    if (r.team_id) return `${teams.find((t) => t.id === r.team_id)?.name ?? r.team_id} (team)`;
    return "—";
  };

  async function grant(e: FormEvent) {
    e.preventDefault();
    const [type, id] = grantee.split(":");
    const body = type === "team" ? { path: path.trim(), team_id: id } : { path: path.trim(), user_id: id };
    if (await run(() => store.api.grantSourceRoot(body))) {
      setPath("");
      setGrantee("");
      await reload();
    }
  }

  async function remove(r: SourceRoot) {
    if (await run(() => store.api.deleteSourceRoot(r.id))) await reload();
  }

  return (
    <section className="card admin-section" aria-labelledby="roots-title">
      <h2 id="roots-title">Source roots</h2>
      <p className="muted">
        Folders on the server that a user or team may add to their collections. Admins may add
        any path under the configured roots.
      </p>
      {roots && roots.length > 0 && (
        <Table label="Source roots" columns={["Path", "Granted to", "Since"]}>
              {roots.map((r) => (
                <tr key={r.id}>
                  <td className="mono">{r.path}</td>
                  <td>{nameOf(r)}</td>
                  <td>{new Date(r.created_at).toLocaleDateString()}</td>
                  <td>
                    <button type="button" disabled={busy} aria-label={`Delete the grant of ${r.path} to ${nameOf(r)}`} onClick={() => void remove(r)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
        </Table>
      )}
      {roots && roots.length === 0 && <p className="muted">No path granted yet.</p>}
      <form className="form" onSubmit={grant}>
        <div className="row">
          <label>
            Path on the server
            <input required className="mono" placeholder="/srv/docs/team-a" value={path} onChange={(e) => setPath(e.target.value)} />
          </label>
          <label>
            Granted to
            <select required value={grantee} onChange={(e) => setGrantee(e.target.value)}>
              <option value="">Choose a user or team…</option>
              <PrincipalOptions users={users} teams={teams} usersLabel="Users" />
            </select>
          </label>
        </div>
        <div className="actions">
          <button type="submit" disabled={busy || !path.trim() || !grantee}>
            Grant path
          </button>
        </div>
      </form>
      {error && <Notice kind="error" text={error} />}
    </section>
  );
}
