import { useCallback, useEffect, useState } from "react";
import { useApp, useAppStore } from "../context";
import { Dialog } from "../components/Dialog";
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

export const when = (at: string | null) => (at ? new Date(at).toLocaleString() : "—");

function lastResult(d: Delivery): string {
  const code = d.last_status_code === null ? "" : `HTTP ${d.last_status_code}`;
  return [code, d.last_error ?? ""].filter(Boolean).join(": ") || "—";
}

/** A webhook's delivery log, newest first as the gateway answers it. */
export function WebhookDeliveries({ webhook, onClose }: { webhook: Webhook; onClose(): void }) {
  const store = useAppStore();
  const collections = useApp((s) => s.collections);
  const [deliveries, setDeliveries] = useState<Delivery[] | null>(null);
  const { error, busy, run: act } = useAction();

  const reload = useCallback(
    () => act(async () => setDeliveries(await store.api.webhookDeliveries(webhook.id))),
    [act, store, webhook.id],
  );
  useEffect(() => {
    void reload();
  }, [reload]);

  return (
    <Dialog title={`Deliveries to ${webhook.url}`} onClose={onClose} wide>
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
            columns={["Event", "Collection", "Status", "Attempts", "Last answer", "Delivered", "Next attempt"]}
          >
            {deliveries.map((d) => (
              <tr key={d.event_id} data-testid={`delivery-${d.event_id}`}>
                <th scope="row">{d.event_type}</th>
                <td>{collections[d.collection_id]?.name ?? d.collection_id}</td>
                <td>
                  <span className={`badge ${BADGE[d.status]}`}>{d.status}</span>
                </td>
                <td>{d.attempts}</td>
                <td>{lastResult(d)}</td>
                <td>{when(d.delivered_at)}</td>
                <td>{when(d.next_attempt_at)}</td>
              </tr>
            ))}
          </Table>
        )}
        <div className="actions">
          <button type="button" disabled={busy} onClick={() => void reload()}>
            Refresh
          </button>
          <button type="button" onClick={onClose}>
            Done
          </button>
        </div>
      </div>
    </Dialog>
  );
}
