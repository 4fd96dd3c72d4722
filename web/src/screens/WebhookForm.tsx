import { useEffect, useId, useState, type FormEvent } from "react";
import { useApp, useAppStore } from "../context";
import { Notice } from "../components/bits";
import { message, useAction } from "../lib/action";
import type { NewWebhook } from "../lib/types";

/** Every event, in a webhook's `events`. */
export const ALL_EVENTS = "*";

type Schema = { $ref?: string; oneOf?: Schema[]; properties?: Record<string, Schema>; const?: unknown };

/** The names of the events in `SEMANTIK_EVENTS`, from the AsyncAPI document the gateway
 * serves (SPEC §7): the `type` constant of each schema the envelope's `event` may be, sorted;
 * none when the document has no such field. */
export function eventTypeNames(doc: unknown): string[] {
  const schemas = (doc as { components?: { schemas?: Record<string, Schema> } } | null)?.components?.schemas ?? {};
  const names = (schemas.EventEnvelope?.properties?.event?.oneOf ?? []).map((one) => {
    const name = one.$ref?.split("/").pop() ?? "";
    const type = schemas[name]?.properties?.type?.const;
    return typeof type === "string" ? type : name;
  });
  return names.filter(Boolean).sort();
}

/** "All" or a chosen few of `choices`; `chosen` is null for all. */
function Choice(props: {
  legend: string;
  all: string;
  some: string;
  what: string;
  choices: { value: string; label: string }[] | null;
  chosen: string[] | null;
  onChange(chosen: string[] | null): void;
}) {
  const { chosen, choices, onChange } = props;
  const group = useId();
  const toggle = (value: string) =>
    onChange(chosen?.includes(value) ? chosen.filter((v) => v !== value) : [...(chosen ?? []), value]);
  return (
    <fieldset>
      <legend>{props.legend}</legend>
      <label className="inline">
        <input type="radio" name={group} checked={chosen === null} onChange={() => onChange(null)} />
        {props.all}
      </label>
      <label className="inline">
        <input type="radio" name={group} checked={chosen !== null} onChange={() => onChange(chosen ?? [])} />
        {props.some}
      </label>
      {chosen !== null &&
        (choices === null ? (
          <p className="muted">Loading…</p>
        ) : choices.length === 0 ? (
          <p className="muted">There are no {props.what} to choose from.</p>
        ) : (
          <div className="pick">
            {choices.map((c) => (
              <label key={c.value} className="inline">
                <input type="checkbox" aria-label={`${props.legend}: ${c.label}`} checked={chosen.includes(c.value)} onChange={() => toggle(c.value)} />
                {c.label}
              </label>
            ))}
          </div>
        ))}
    </fieldset>
  );
}

/** A new webhook: where to, which events, of which collections. The gateway's refusals
 * (a private or malformed URL, an unknown event, too many webhooks) show on the form. */
export function WebhookForm({ onCreated }: { onCreated(webhook: NewWebhook): Promise<void> }) {
  const store = useAppStore();
  const collections = useApp((s) => s.collections);
  const [names, setNames] = useState<string[] | null>(null);
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [events, setEvents] = useState<string[] | null>(null);
  const [chosen, setChosen] = useState<string[] | null>(null);
  const { error, setError, busy, run: act } = useAction();

  useEffect(() => {
    store.api.asyncapi().then(
      (doc) => setNames(eventTypeNames(doc)),
      (e: unknown) => {
        setNames([]);
        setError(`the event types could not be read: ${message(e)}`);
      },
    );
  }, [store, setError]);

  const all = Object.values(collections)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((c) => ({ value: c.id, label: c.name }));

  function create(e: FormEvent) {
    e.preventDefault();
    void act(async () => {
      const made = await store.api.createWebhook({
        url: url.trim(),
        events: events ?? [ALL_EVENTS],
        collection_ids: chosen,
        description: description.trim(),
      });
      setUrl("");
      setDescription("");
      setEvents(null);
      setChosen(null);
      await onCreated(made);
    });
  }

  const incomplete = !url.trim() || events?.length === 0 || chosen?.length === 0;
  return (
    <form className="form card" onSubmit={create} aria-labelledby="create-webhook-title">
      <h2 id="create-webhook-title" className="h3">
        Add a webhook
      </h2>
      <label>
        Payload URL
        <input
          type="url"
          required
          maxLength={2000}
          placeholder="https://example.org/semantik-events"
          value={url}
          onChange={(e) => setUrl(e.target.value)}
        />
      </label>
      <label>
        <span>
          Description <span className="muted">(optional)</span>
        </span>
        <input maxLength={500} value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <Choice
        legend="Events"
        all="Every event"
        some="Only these events"
        what="event types"
        choices={names && names.map((n) => ({ value: n, label: n }))}
        chosen={events}
        onChange={setEvents}
      />
      <Choice
        legend="Collections"
        all="Every collection you can read"
        some="Only some collections"
        what="collections"
        choices={all}
        chosen={chosen}
        onChange={setChosen}
      />
      {error && <Notice kind="error" text={error} />}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy || incomplete}>
          Add webhook
        </button>
      </div>
    </form>
  );
}
