import { useState, type ReactNode } from "react";
import type { CollectionStatus, Operation, Span } from "../lib/types";
import { markSpans } from "../lib/marks";
import { progressLabel } from "../lib/text";

export function StatusBadge({ status }: { status: CollectionStatus | Operation["status"] }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}

export function ProgressBar({ op, label }: { op: Operation; label?: string }) {
  const pct = Math.round(op.progress * 100);
  return (
    <div className="progress-wrap">
      <div
        className="progress"
        role="progressbar"
        aria-label={label ?? `${op.type} progress`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
        aria-valuetext={progressLabel(op)}
      >
        <div className="progress-fill" style={{ width: `${pct}%` }} />
      </div>
      <span className="progress-text">{progressLabel(op)}</span>
    </div>
  );
}

/** `text` with the server's highlight offsets marked. */
export function Marked({ text, spans }: { text: string; spans: readonly Span[] }) {
  return (
    <>
      {markSpans(text, spans).map((s, i) => (s.match ? <mark key={i}>{s.text}</mark> : <span key={i}>{s.text}</span>))}
    </>
  );
}

export function Notice({ kind, text, onClose }: { kind: "error" | "info"; text: string; onClose?(): void }) {
  return (
    <div className={`notice notice-${kind}`} role={kind === "error" ? "alert" : "status"}>
      <span>{text}</span>
      {onClose && (
        <button type="button" className="link" onClick={onClose} aria-label="Dismiss message">
          Dismiss
        </button>
      )}
    </div>
  );
}

/** A collection role, as a badge. */
export function RoleBadge({ role }: { role: string }) {
  return <span className={`badge badge-role badge-role-${role}`} title={`Your role: ${role}`}>{role}</span>;
}

/** A secret shown once: read-only, selected on focus, with a copy button. */
export function CopyField({ label, value }: { label: string; value: string }) {
  const [copied, setCopied] = useState(false);
  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  }
  return (
    <div className="copy-field">
      <label className="grow">
        {label}
        <input readOnly className="mono" value={value} onFocus={(e) => e.currentTarget.select()} />
      </label>
      <button type="button" onClick={() => void copy()}>
        {copied ? "Copied" : "Copy"}
      </button>
    </div>
  );
}

/** The ``<option>``s of a select whose choices are ``{value, label}`` pairs. */
export function Options<T extends string>({ choices }: { choices: readonly { value: T; label: string }[] }) {
  return (
    <>
      {choices.map((c) => (
        <option key={c.value} value={c.value}>
          {c.label}
        </option>
      ))}
    </>
  );
}

/** Users and teams to choose from, as ``user:<id>`` and ``team:<id>`` values. */
export function PrincipalOptions({
  users,
  teams,
  usersLabel = "Users",
}: {
  users: readonly { id: string; username: string }[];
  teams: readonly { id: string; name: string }[];
  usersLabel?: string;
}) {
  return (
    <>
      {users.length > 0 && (
        <optgroup label={usersLabel}>
          {users.map((u) => (
            <option key={u.id} value={`user:${u.id}`}>
              {u.username}
            </option>
          ))}
        </optgroup>
      )}
      {teams.length > 0 && (
        <optgroup label="Teams">
          {teams.map((t) => (
            <option key={t.id} value={`team:${t.id}`}>
              {t.name} (team)
            </option>
          ))}
        </optgroup>
      )}
    </>
  );
}

/** A table of rows with a header of ``columns`` (and a hidden one for row actions),
 * scrolling sideways on narrow screens. */
export function Table(props: {
  label: string;
  columns: readonly string[];
  actions?: boolean;
  className?: string;
  scroll?: boolean;
  children: ReactNode;
}) {
  const { label, columns, actions = true, className, scroll = true, children } = props;
  const table = (
    <table className={className} aria-label={label}>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c} scope="col">
              {c}
            </th>
          ))}
          {actions && (
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          )}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
  return scroll ? <div className="table-scroll">{table}</div> : table;
}

/** A destructive action asked for twice: its button offers "<verb> now" and "Keep". */
export function ConfirmAction({
  verb,
  target,
  busy,
  onConfirm,
}: {
  verb: string;
  target: string;
  busy: boolean;
  onConfirm(): void;
}) {
  const [asking, setAsking] = useState(false);
  return asking ? (
    <>
      <button type="button" className="danger" disabled={busy} onClick={onConfirm}>
        {verb} now
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Keep
      </button>
    </>
  ) : (
    <button type="button" aria-label={`${verb} ${target}`} onClick={() => setAsking(true)}>
      {verb}
    </button>
  );
}
