import { useEffect, useState, type FormEvent } from "react";
import { useApp, useAppStore } from "../context";
import { Notice } from "../components/bits";
import type { Registration } from "../lib/types";

export function Login() {
  const signIn = useApp((s) => s.signIn);
  const notice = useApp((s) => s.notice);
  const store = useAppStore();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [email, setEmail] = useState("");
  const [invite, setInvite] = useState("");
  const [register, setRegister] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // null: not known (still asking, or a gateway that does not say): offered.
  const [registration, setRegistration] = useState<Registration | null>(null);

  useEffect(() => {
    let live = true;
    store.api
      .registration()
      .then((r) => {
        if (live) setRegistration(r);
      })
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [store]);

  const canRegister = registration === null || registration.mode !== "closed" || registration.first_account;
  const needsInvite = registration?.mode === "invite" && !registration.first_account;
  const registering = register && canRegister;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await signIn(username, password, registering ? { email, invite_code: needsInvite ? invite : undefined } : false);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login" id="main">
      <h1>Semantik</h1>
      <p className="muted">Semantic search over your team's documents.</p>
      {notice && notice.kind === "info" && <Notice kind="info" text={notice.text} />}
      <form onSubmit={submit} className="card form" aria-labelledby="login-title">
        <h2 id="login-title">{registering ? "Create an account" : "Sign in"}</h2>
        {registration?.first_account && (
          <p className="notice notice-info">
            No one has signed up yet: the first account created administers Semantik (users,
            teams, registration).
          </p>
        )}
        <label>
          Username
          <input
            name="username"
            autoComplete="username"
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete={registering ? "new-password" : "current-password"}
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {registering && (
          <label>
            <span>
              Email <span className="muted">(optional)</span>
            </span>
            <input name="email" type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} />
          </label>
        )}
        {registering && needsInvite && (
          <label>
            Invite code
            <input name="invite_code" required autoComplete="off" value={invite} onChange={(e) => setInvite(e.target.value)} />
            <span className="hint">An administrator gives you one.</span>
          </label>
        )}
        {error && <Notice kind="error" text={error} />}
        <button type="submit" className="primary" disabled={busy}>
          {registering ? "Create account and sign in" : "Sign in"}
        </button>
        {canRegister ? (
          <button type="button" className="link" onClick={() => setRegister(!register)}>
            {registering ? "I already have an account" : "New here? Create an account"}
          </button>
        ) : (
          <p className="muted">New here? Ask an administrator for an account.</p>
        )}
      </form>
    </main>
  );
}
