import { useState, type FormEvent } from "react";
import { useApp } from "../context";
import { Notice } from "../components/bits";

export function Login() {
  const signIn = useApp((s) => s.signIn);
  const notice = useApp((s) => s.notice);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [register, setRegister] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await signIn(username, password, register);
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
        <h2 id="login-title">{register ? "Create an account" : "Sign in"}</h2>
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
            autoComplete={register ? "new-password" : "current-password"}
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && <Notice kind="error" text={error} />}
        <button type="submit" className="primary" disabled={busy}>
          {register ? "Create account and sign in" : "Sign in"}
        </button>
        <button type="button" className="link" onClick={() => setRegister(!register)}>
          {register ? "I already have an account" : "New here? Create an account"}
        </button>
      </form>
    </main>
  );
}
