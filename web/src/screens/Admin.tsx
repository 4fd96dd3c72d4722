import { useCallback, useEffect, useState, type FormEvent } from "react";
import { useApp, useAppStore } from "../context";
import { CopyField, Notice, Options, Table } from "../components/bits";
import { message, useAction } from "../lib/action";
import type { Invite, Registration, RegistrationMode, Team, UserRow } from "../lib/types";
import { SourceRoots, Teams } from "./AdminGroups";

/** Users, registration, invites, teams and source roots (admins only, SPEC §11). */
export function Admin() {
  const store = useAppStore();
  const [users, setUsers] = useState<UserRow[] | null>(null);
  const [teams, setTeams] = useState<Team[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reloadUsers = useCallback(
    () => store.api.users().then(setUsers, (e: unknown) => setError(message(e))),
    [store],
  );
  const reloadTeams = useCallback(
    () => store.api.teams().then(setTeams, (e: unknown) => setError(message(e))),
    [store],
  );
  useEffect(() => {
    void reloadUsers();
    void reloadTeams();
  }, [reloadUsers, reloadTeams]);

  // The operator account is the command line's, no person: not a member nor a grantee.
  const people = (users ?? []).filter((u) => !u.operator);

  return (
    <main id="main" className="page admin">
      <div className="page-head">
        <h1>Administration</h1>
      </div>
      {error && <Notice kind="error" text={error} />}
      <Users users={users} onChange={reloadUsers} />
      <RegistrationSettings />
      <Invites />
      <Teams teams={teams} users={people} onChange={reloadTeams} />
      <SourceRoots teams={teams ?? []} users={people} />
    </main>
  );
}

function Users({ users, onChange }: { users: UserRow[] | null; onChange(): Promise<void> }) {
  const store = useAppStore();
  const myId = useApp((s) => s.me?.id);
  const { error, busy, run } = useAction();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [admin, setAdmin] = useState(false);
  const [resetting, setResetting] = useState<string | null>(null);
  const [newPassword, setNewPassword] = useState("");
  const [done, setDone] = useState<string | null>(null);

  async function create(e: FormEvent) {
    e.preventDefault();
    setDone(null);
    const name = username.trim();
    if (await run(() => store.api.createUser({ username: name, password, is_admin: admin }))) {
      setUsername("");
      setPassword("");
      setAdmin(false);
      setDone(`Account ${name} created.`);
      await onChange();
    }
  }

  async function update(u: UserRow, body: Parameters<typeof store.api.updateUser>[1], said: string) {
    setDone(null);
    if (await run(() => store.api.updateUser(u.id, body))) {
      setDone(said);
      setResetting(null);
      setNewPassword("");
      await onChange();
    }
  }

  return (
    <section className="card admin-section" aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      {users === null ? (
        <p className="muted">Loading…</p>
      ) : (
        <Table label="Users" className="users" actions={false} columns={["Username", "Email", "Role", "Status", "Actions"]}>
              {users.map((u) => (
                <tr key={u.id} data-testid={`user-${u.username}`}>
                  <th scope="row">
                    {u.username}
                    {u.id === myId && <span className="muted"> (you)</span>}
                  </th>
                  <td>{u.email || "—"}</td>
                  <td>{u.operator ? "operator (command line)" : u.is_admin ? "admin" : "user"}</td>
                  <td>{u.disabled ? <span className="badge badge-failed">disabled</span> : "active"}</td>
                  <td>
                    <div className="row-actions">
                      {u.id !== myId && !u.operator && (
                        <>
                          <button
                            type="button"
                            disabled={busy}
                            aria-label={u.is_admin ? `Remove admin rights of ${u.username}` : `Make ${u.username} an admin`}
                            onClick={() => void update(u, { is_admin: !u.is_admin }, u.is_admin ? `${u.username} is no longer an admin.` : `${u.username} is now an admin.`)}
                          >
                            {u.is_admin ? "Remove admin" : "Make admin"}
                          </button>
                          <button
                            type="button"
                            disabled={busy}
                            aria-label={`${u.disabled ? "Enable" : "Disable"} ${u.username}`}
                            onClick={() => void update(u, { disabled: !u.disabled }, `${u.username} is ${u.disabled ? "enabled" : "disabled"}.`)}
                          >
                            {u.disabled ? "Enable" : "Disable"}
                          </button>
                        </>
                      )}
                      {u.operator ? null : resetting === u.id ? (
                        <form
                          className="inline-form"
                          onSubmit={(e) => {
                            e.preventDefault();
                            void update(u, { password: newPassword }, `The password of ${u.username} is reset.`);
                          }}
                        >
                          <label>
                            New password for {u.username}
                            <input type="password" required autoComplete="new-password" value={newPassword} onChange={(e) => setNewPassword(e.target.value)} />
                          </label>
                          <button type="submit" disabled={busy || !newPassword}>
                            Set password
                          </button>
                          <button type="button" onClick={() => setResetting(null)}>
                            Cancel
                          </button>
                        </form>
                      ) : (
                        <button type="button" aria-label={`Reset the password of ${u.username}`} onClick={() => { setResetting(u.id); setNewPassword(""); }}>
                          Reset password
                        </button>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
        </Table>
      )}
      <form className="form" onSubmit={create} aria-labelledby="new-user-title">
        <h3 id="new-user-title">Create an account</h3>
        <div className="row">
          <label>
            Username
            <input required autoComplete="off" value={username} onChange={(e) => setUsername(e.target.value)} />
          </label>
          <label>
            Initial password
            <input type="password" required autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          </label>
        </div>
        <label className="inline">
          <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.target.checked)} />
          Administrator
        </label>
        <div className="actions">
          <button type="submit" className="primary" disabled={busy || !username.trim() || !password}>
            Create account
          </button>
        </div>
      </form>
      {done && <p role="status" className="notice notice-info">{done}</p>}
      {error && <Notice kind="error" text={error} />}
    </section>
  );
}

const MODES: { value: RegistrationMode; label: string }[] = [
  { value: "closed", label: "Closed: only admins create accounts" },
  { value: "invite", label: "By invite: an invite code is needed" },
  { value: "open", label: "Open: anyone who reaches Semantik" },
];

function RegistrationSettings() {
  const store = useAppStore();
  const [current, setCurrent] = useState<Registration | null>(null);
  const [mode, setMode] = useState<RegistrationMode>("closed");
  const [saved, setSaved] = useState(false);
  const { error, busy, run } = useAction();
  useEffect(() => {
    void run(async () => {
      const r = await store.api.registration();
      setCurrent(r);
      setMode(r.mode);
    });
  }, [store, run]);

  async function save(e: FormEvent) {
    e.preventDefault();
    setSaved(false);
    await run(async () => {
      const r = await store.api.setRegistration(mode);
      setCurrent(r);
      setMode(r.mode);
      setSaved(true);
    });
  }

  return (
    <section className="card admin-section" aria-labelledby="registration-title">
      <h2 id="registration-title">Registration</h2>
      <form className="form" onSubmit={save}>
        <label>
          Who may create an account
          <select value={mode} onChange={(e) => { setMode(e.target.value as RegistrationMode); setSaved(false); }}>
            <Options choices={MODES} />
          </select>
        </label>
        <div className="actions">
          {saved && <span role="status" className="muted">Saved.</span>}
          <button type="submit" disabled={busy || current === null || mode === current.mode}>
            Save
          </button>
        </div>
      </form>
      {error && <Notice kind="error" text={error} />}
    </section>
  );
}

function Invites() {
  const store = useAppStore();
  const [hours, setHours] = useState("");
  const [invite, setInvite] = useState<Invite | null>(null);
  const { error, busy, run } = useAction();

  async function create(e: FormEvent) {
    e.preventDefault();
    setInvite(null);
    await run(async () => setInvite(await store.api.createInvite(hours.trim() ? Number(hours) : undefined)));
  }

  return (
    <section className="card admin-section" aria-labelledby="invites-title">
      <h2 id="invites-title">Invites</h2>
      <p className="muted">
        With registration by invite, a person signs up with a code; each code works once.
      </p>
      <form className="form" onSubmit={create}>
        <label>
          <span>
            Expires in (hours) <span className="muted">(optional)</span>
          </span>
          <input type="number" min={1} inputMode="numeric" value={hours} onChange={(e) => setHours(e.target.value)} />
        </label>
        <div className="actions">
          <button type="submit" disabled={busy}>
            Create invite code
          </button>
        </div>
      </form>
      {invite && (
        <div className="notice notice-warning secret" role="status">
          <p>Give this code to the person you invite. It is shown only now.</p>
          <CopyField label="Invite code" value={invite.code} />
          {invite.expires_at && <p className="muted">Expires {new Date(invite.expires_at).toLocaleString()}.</p>}
        </div>
      )}
      {error && <Notice kind="error" text={error} />}
    </section>
  );
}
