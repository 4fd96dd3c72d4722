import { useCallback, useEffect, useState } from "react";
import { useApp, useAppStore } from "../context";
import { ConfirmAction, CopyField, Notice, Table } from "../components/bits";
import { message, useAction } from "../lib/action";
import type { NewWebhook, Webhook } from "../lib/types";
import { WebhookDeliveries, when } from "./WebhookDeliveries";
import { ALL_EVENTS, WebhookForm } from "./WebhookForm";

/** Active, paused by its owner, or deactivated by Semantik after failing too long; a
 * failure is in the warning colours of a notice. */
function Status({ webhook: w }: { webhook: Webhook }) {
  if (w.deactivated_reason !== null) {
    return <div className="notice notice-warning">deactivated: {w.deactivated_reason}</div>;
  }
  if (!w.active) return <span className="badge badge-cancelled">paused</span>;
  return (
    <>
      <span className="badge badge-ready">active</span>
      {w.failing_since && <div className="notice notice-warning">failing since {when(w.failing_since)}</div>}
    </>
  );
}

/** Webhooks of the signed-in user: events of their collections POSTed to a URL, signed
 * per the Standard Webhooks spec with a secret shown once (SPEC §13). */
export function Webhooks() {
  const store = useAppStore();
  const collections = useApp((s) => s.collections);
  const [webhooks, setWebhooks] = useState<Webhook[] | null>(null);
  const [created, setCreated] = useState<NewWebhook | null>(null);
  const [log, setLog] = useState<Webhook | null>(null);
  const { error, setError, busy, run: act } = useAction();

  const reload = useCallback(
    () => store.api.webhooks().then(setWebhooks, (e: unknown) => setError(message(e))),
    [store, setError],
  );
  useEffect(() => {
    void reload();
  }, [reload]);

  async function onCreated(made: NewWebhook) {
    setCreated(made);
    await reload();
  }

  const setActive = (w: Webhook, active: boolean) =>
    void act(async () => {
      const changed = await store.api.setWebhookActive(w.id, active);
      setWebhooks((list) => list && list.map((x) => (x.id === w.id ? changed : x)));
    });

  const remove = (w: Webhook) =>
    void act(async () => {
      await store.api.deleteWebhook(w.id);
      if (created?.id === w.id) setCreated(null);
      await reload();
    });

  const events = (names: string[]) => (names.includes(ALL_EVENTS) ? "every event" : names.join(", "));
  const collectionNames = (ids: string[] | null) =>
    ids === null ? "all you can read" : ids.map((id) => collections[id]?.name ?? id).join(", ");
  const deactivated = (webhooks ?? []).filter((w) => w.deactivated_reason !== null);

  return (
    <main id="main" className="page">
      <div className="page-head">
        <h1>Webhooks</h1>
      </div>
      <p className="muted">
        A webhook sends each event of your collections to a URL as a signed POST (the Standard
        Webhooks format: verify the <span className="mono">webhook-signature</span> header with its
        secret). It carries only events of collections you may read when it is sent. A webhook
        whose deliveries keep failing for a day (<span className="mono">SEMANTIK_WEBHOOK_DISABLE_AFTER_HOURS</span>) is
        deactivated.
      </p>
      {created && (
        <section className="notice notice-warning secret" aria-labelledby="new-webhook-title">
          <h2 id="new-webhook-title" className="h3">
            Webhook added: {created.url}
          </h2>
          <p>
            <strong>Copy it now: it is shown only this once.</strong> Your receiver needs it to check
            that a delivery comes from Semantik. If it is lost, delete the webhook and add it again.
          </p>
          <CopyField label="Signing secret" value={created.secret} />
          <div className="actions">
            <button type="button" onClick={() => setCreated(null)}>
              I have copied it
            </button>
          </div>
        </section>
      )}
      {deactivated.length > 0 && (
        <section className="notice notice-warning" role="alert" aria-labelledby="deactivated-title">
          <h2 id="deactivated-title" className="h3">
            Deactivated after failing
          </h2>
          <ul>
            {deactivated.map((w) => (
              <li key={w.id}>
                <span className="mono">{w.url}</span> is deactivated: {w.deactivated_reason}. Nothing is sent to it
                until you activate it again.
              </li>
            ))}
          </ul>
        </section>
      )}
      <WebhookForm onCreated={onCreated} />
      <h2>Your webhooks</h2>
      {error && <Notice kind="error" text={error} />}
      {webhooks === null ? (
        !error && <p className="muted">Loading…</p>
      ) : webhooks.length === 0 ? (
        <p className="muted">No webhooks yet.</p>
      ) : (
        <Table label="Your webhooks" columns={["URL", "Events", "Collections", "Status", "Last delivery"]}>
          {webhooks.map((w) => (
            <tr key={w.id} data-testid={`webhook-${w.id}`}>
              <th scope="row">
                <span className="mono">{w.url}</span>
                {w.description && <div className="muted">{w.description}</div>}
              </th>
              <td>{events(w.events)}</td>
              <td>{collectionNames(w.collection_ids)}</td>
              <td>
                <Status webhook={w} />
              </td>
              <td>{w.last_delivery_at ? when(w.last_delivery_at) : "never"}</td>
              <td>
                <div className="row-actions">
                  <button type="button" aria-label={`Deliveries to ${w.url}`} onClick={() => setLog(w)}>
                    Deliveries
                  </button>
                  <button
                    type="button"
                    disabled={busy}
                    aria-label={`${w.active ? "Pause" : "Activate"} ${w.url}`}
                    onClick={() => setActive(w, !w.active)}
                  >
                    {w.active ? "Pause" : "Activate"}
                  </button>
                  <ConfirmAction verb="Delete" target={w.url} busy={busy} onConfirm={() => remove(w)} />
                </div>
              </td>
            </tr>
          ))}
        </Table>
      )}
      {log && <WebhookDeliveries key={log.id} webhook={log} onClose={() => setLog(null)} />}
    </main>
  );
}
