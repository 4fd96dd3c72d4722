import { useCallback, useEffect, useId, useRef, useState } from "react";
import { useApp, useAppStore } from "../context";
import { Notice, Table } from "../components/bits";
import { useAction } from "../lib/action";
import type { Delivery, DeliveryStatus, Webhook } from "../lib/types";

/** The badge colours the other statuses use: green done, blue waiting, amber retrying,
 * red given up, grey skipped (the owner could not read the collection). */
const BADGE: Record<DeliveryStatus, string> = {
  delivered: "badge-ready",
  pending: "badge-pending",
  retrying: "badge-degraded",
  failed: "badge-failed",
  skipped: "muted",
};

export const when = (at: string) => new Date(at).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });

function lastResult(d: Delivery): string {
  const code = d.last_status_code === null ? "" : `HTTP ${d.last_status_code}`;
  return [code, d.last_error ?? ""].filter(Boolean).join(": ") || "—";
}

/** Delivered, or when the next attempt is due; neither once given up or skipped. */
function moment(d: Delivery): string {
  if (d.delivered_at) return `delivered ${when(d.delivered_at)}`;
  return d.next_attempt_at ? `next attempt ${when(d.next_attempt_at)}` : "—";
}

/** A webhook's delivery log, newest first as the gateway answers it: a section below the
 * list, as wide as the page for its six columns; opening it moves the focus there. */
export function WebhookDeliveries({ webhook, onClose }: { webhook: Webhook; onClose(): void }) {
  const store = useAppStore();
  const collections = useApp((s) => s.collections);
  const [deliveries, setDeliveries] = useState<Delivery[] | null>(null);
  const { error, busy, run: act } = useAction();
  const titleId = useId();
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => title.current?.focus(), [webhook.id]);

  const reload = useCallback(
    () => act(async () => setDeliveries(await store.api.webhookDeliveries(webhook.id))),
    [act, store, webhook.id],
  );
  useEffect(() => {
    void reload();
  }, [reload]);

  return (
    <section className="card" aria-labelledby={titleId}>
      <h2 id={titleId} ref={title} tabIndex={-1} className="h3">
        Deliveries to {webhook.url}
      </h2>
      <div className="form">
        <p className="muted">
          The latest 50 events sent to this webhook, newest first. A delivery is retried with
          growing pauses until the receiver answers with a 2xx status.
        </p>
        {error && <Notice kind="error" text={error} />}
        {deliveries === null ? (
          !error && <p className="muted">Loading…</p>
        ) : deliveries.length === 0 ? (
          <p className="muted">Nothing delivered yet.</p>
        ) : (
          <Table
            label="Deliveries"
            actions={false}
            columns={["Event", "Collection", "Status", "Attempts", "Last answer", "When"]}
          >
            {deliveries.map((d) => (
              <tr key={d.event_id} data-testid={`delivery-${d.event_id}`}>
                <th scope="row">{d.event_type}</th>
                <td>{d.collection_id === null ? "—" : (collections[d.collection_id]?.name ?? d.collection_id)}</td>
                <td>
                  <span className={`badge ${BADGE[d.status]}`}>{d.status}</span>
                </td>
                <td>{d.attempts}</td>
                <td>{lastResult(d)}</td>
                <td>{moment(d)}</td>
              </tr>
            ))}
          </Table>
        )}
        <div className="actions">
          <button type="button" disabled={busy} onClick={() => void reload()}>
            Refresh
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </section>
  );
}
