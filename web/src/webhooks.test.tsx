import { act, cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { App } from "./App";
import { parseRoute, pathOf } from "./lib/router";
import type { Delivery, Webhook } from "./lib/types";
import { eventTypeNames } from "./screens/WebhookForm";
import { collection, harness, page, renderWith, type Call, type Handler } from "./test-support";

afterEach(cleanup);

/** The document the gateway serves at /api/asyncapi.json, as committed. */
const ASYNCAPI: unknown = JSON.parse(
  readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), "../../docs/asyncapi.json"), "utf-8"),
);

const notes = collection("notes");
const wiki = collection("wiki");

function webhook(id: string, extra: Partial<Webhook> = {}): Webhook {
  return {
    id,
    url: `https://hooks.example.org/${id}`,
    events: ["*"],
    collection_ids: null,
    description: "",
    active: true,
    created_at: "2026-12-01T10:00:00Z",
    failing_since: null,
    deactivated_reason: null,
    last_delivery_at: null,
    ...extra,
  };
}

const REASON = "failing since 2026-12-05T03:00:00Z for 24 h (last: HTTP 500)";
const dead = webhook("w-dead", { active: false, failing_since: "2026-12-05T03:00:00Z", deactivated_reason: REASON });
const paused = webhook("w-paused", { active: false, events: ["CollectionCreated", "OperationCompleted"], collection_ids: [wiki.id] });
const failing = webhook("w-failing", { failing_since: "2026-12-06T08:00:00Z", last_delivery_at: "2026-12-06T07:00:00Z", description: "billing" });

function routes(hooks: () => Webhook[], extra: Record<string, Handler> = {}): Record<string, Handler> {
  return {
    "GET /api/v2/collections": () => ({ body: page([notes, wiki]) }),
    "GET /api/v2/operations": () => ({ body: page([]) }),
    "GET /api/asyncapi.json": () => ({ body: ASYNCAPI }),
    "GET /api/v2/webhooks": () => ({ body: hooks() }),
    ...extra,
  };
}

async function opened(r: Record<string, Handler>) {
  const h = harness(r);
  await h.store.getState().start();
  renderWith(h.store, <App />);
  fireEvent.click(within(screen.getByRole("navigation", { name: "Main" })).getByRole("link", { name: "Webhooks" }));
  return h;
}

const row = (id: string) => screen.getByTestId(`webhook-${id}`);

describe("the event types", () => {
  it("are the envelope's events of the AsyncAPI document, sorted", () => {
    const names = eventTypeNames(ASYNCAPI);
    expect(names).toContain("CollectionCreated");
    expect(names).toContain("OperationCompleted");
    expect(names).not.toContain("CreateCollection"); // a command, not an event
    expect(names).toEqual([...names].sort());
    expect(names).toHaveLength(new Set(names).size);
    expect(eventTypeNames({ components: {} })).toEqual([]);
    const named = { $ref: "#/components/schemas/Renamed", properties: {} };
    const doc = { components: { schemas: { EventEnvelope: { properties: { event: { oneOf: [named, {}] } } }, Renamed: { properties: { type: { const: "Sent" } } } } } };
    expect(eventTypeNames(doc)).toEqual(["Sent"]);
    expect(eventTypeNames(null)).toEqual([]);
  });
});

describe("webhooks", () => {
  it("are reached from the navigation at /webhooks", async () => {
    const h = await opened(routes(() => []));
    expect(h.store.getState().route).toEqual({ name: "webhooks" });
    expect(pathOf({ name: "webhooks" })).toBe("/webhooks");
    expect(parseRoute("/webhooks")).toEqual({ name: "webhooks" });
    expect(await screen.findByText("No webhooks yet.")).toBeTruthy();
  });

  it("list their events, collections and status, a deactivated one as a warning", async () => {
    await opened(routes(() => [dead, paused, failing]));
    await screen.findByRole("table", { name: "Your webhooks" });
    const warning = screen.getByRole("alert");
    expect(warning.textContent).toContain(`${dead.url} is deactivated: ${REASON}`);
    expect(within(row(dead.id)).getByText(`deactivated: ${REASON}`)).toBeTruthy();
    expect(within(row(dead.id)).getByRole("button", { name: `Activate ${dead.url}` })).toBeTruthy();
    expect(row(dead.id).textContent).toContain("every event");
    expect(row(dead.id).textContent).toContain("all you can read");
    expect(row(dead.id).textContent).toContain("never");
    expect(within(row(paused.id)).getByText("paused")).toBeTruthy();
    expect(row(paused.id).textContent).toContain("CollectionCreated, OperationCompleted");
    expect(row(paused.id).textContent).toContain("wiki");
    expect(within(row(failing.id)).getByText("active")).toBeTruthy();
    expect(within(row(failing.id)).getByText(/^failing since /)).toBeTruthy();
    expect(row(failing.id).textContent).toContain("billing");
    expect(row(failing.id).textContent).not.toContain("deactivated");
  });

  it("show the secret once after creation, then never again", async () => {
    const calls: Call[] = [];
    let hooks: Webhook[] = [];
    const made = webhook("w-new", { events: ["CollectionCreated", "DocumentFailed"], collection_ids: [notes.id], description: "ci" });
    const written: string[] = [];
    Object.defineProperty(navigator, "clipboard", { value: { writeText: async (t: string) => void written.push(t) }, configurable: true });
    await opened(
      routes(() => hooks, {
        "POST /api/v2/webhooks": (c) => {
          calls.push(c);
          hooks = [made];
          return { status: 201, body: { ...made, secret: "whsec_c2VjcmV0LW9mLXRoZS13ZWJob29r" } };
        },
      }),
    );
    const submit = screen.getByRole("button", { name: "Add webhook" });
    fireEvent.change(screen.getByLabelText("Payload URL"), { target: { value: ` ${made.url} ` } });
    fireEvent.change(screen.getByLabelText(/Description/), { target: { value: "ci" } });
    fireEvent.click(screen.getByLabelText("Only these events"));
    expect(submit).toHaveProperty("disabled", true);
    fireEvent.click(await screen.findByLabelText("Events: CollectionCreated"));
    fireEvent.click(screen.getByLabelText("Events: DocumentFailed"));
    fireEvent.click(screen.getByLabelText("Events: OperationStarted"));
    fireEvent.click(screen.getByLabelText("Events: OperationStarted"));
    fireEvent.click(screen.getByLabelText("Only some collections"));
    fireEvent.click(screen.getByLabelText("Collections: notes"));
    fireEvent.click(submit);

    const secret = (await screen.findByLabelText("Signing secret")) as HTMLInputElement;
    expect(secret.value).toBe("whsec_c2VjcmV0LW9mLXRoZS13ZWJob29r");
    expect(screen.getByText(/it is shown only this once/)).toBeTruthy();
    expect(calls[0].body).toEqual({ url: made.url, events: ["CollectionCreated", "DocumentFailed"], collection_ids: [notes.id], description: "ci" });
    fireEvent.click(screen.getByRole("button", { name: "Copy" }));
    expect(await screen.findByRole("button", { name: "Copied" })).toBeTruthy();
    expect(written).toEqual(["whsec_c2VjcmV0LW9mLXRoZS13ZWJob29r"]);
    expect((await screen.findByTestId("webhook-w-new")).textContent).toContain("CollectionCreated, DocumentFailed");
    expect((screen.getByLabelText("Payload URL") as HTMLInputElement).value).toBe("");

    fireEvent.click(screen.getByRole("button", { name: "I have copied it" }));
    expect(screen.queryByLabelText("Signing secret")).toBeNull();
    expect(document.body.innerHTML).not.toContain("whsec_");
  });

  it("sends every event of every collection unless asked otherwise", async () => {
    const calls: Call[] = [];
    await opened(routes(() => [], { "POST /api/v2/webhooks": (c) => (calls.push(c), { status: 201, body: { ...webhook("w1"), secret: "whsec_x" } }) }));
    fireEvent.change(screen.getByLabelText("Payload URL"), { target: { value: "https://hooks.example.org/w1" } });
    fireEvent.click(screen.getByRole("button", { name: "Add webhook" }));
    expect(await screen.findByLabelText("Signing secret")).toBeTruthy();
    expect(calls[0].body).toEqual({ url: "https://hooks.example.org/w1", events: ["*"], collection_ids: null, description: "" });
  });

  it("show the gateway's refusal next to the form", async () => {
    const refusal = "url: http://10.0.0.5/hook resolves to a private address (10.0.0.5); set SEMANTIK_WEBHOOK_ALLOW_PRIVATE to allow it";
    await opened(routes(() => [], { "POST /api/v2/webhooks": () => ({ status: 422, body: { detail: refusal } }) }));
    fireEvent.change(screen.getByLabelText("Payload URL"), { target: { value: "http://10.0.0.5/hook" } });
    fireEvent.click(screen.getByRole("button", { name: "Add webhook" }));
    const form = screen.getByRole("form", { name: "Add a webhook" });
    expect((await within(form).findByRole("alert")).textContent).toBe(refusal);
    expect(screen.queryByLabelText("Signing secret")).toBeNull();
    expect((screen.getByLabelText("Payload URL") as HTMLInputElement).value).toBe("http://10.0.0.5/hook");
  });

  it("say so when the event types cannot be read, and still offer every event", async () => {
    await opened(routes(() => [], { "GET /api/asyncapi.json": () => ({ status: 503, body: { detail: "gateway starting" } }) }));
    expect(await screen.findByText("the event types could not be read: gateway starting")).toBeTruthy();
    fireEvent.click(screen.getByLabelText("Only these events"));
    expect(screen.getByText("There are no event types to choose from.")).toBeTruthy();
    fireEvent.click(screen.getByLabelText("Every event"));
    expect(screen.queryByText("There are no event types to choose from.")).toBeNull();
  });

  it("are deleted only after a confirmation", async () => {
    const calls: Call[] = [];
    let hooks = [failing, paused];
    await opened(
      routes(() => hooks, {
        [`DELETE /api/v2/webhooks/${failing.id}`]: (c) => {
          calls.push(c);
          hooks = [paused];
          return { status: 204 };
        },
      }),
    );
    await screen.findByRole("table", { name: "Your webhooks" });
    fireEvent.click(screen.getByRole("button", { name: `Delete ${failing.url}` }));
    fireEvent.click(within(row(failing.id)).getByRole("button", { name: "Keep" }));
    expect(calls).toEqual([]);
    fireEvent.click(screen.getByRole("button", { name: `Delete ${failing.url}` }));
    fireEvent.click(within(row(failing.id)).getByRole("button", { name: "Delete now" }));
    await waitFor(() => expect(screen.queryByTestId(`webhook-${failing.id}`)).toBeNull());
    expect(calls.map((c) => c.method)).toEqual(["DELETE"]);
    expect(row(paused.id)).toBeTruthy();
  });

  it("are paused and activated again, which clears a deactivation", async () => {
    const calls: Call[] = [];
    const patch = (w: Webhook): Handler => (c) => {
      calls.push(c);
      const active = (c.body as { active: boolean }).active;
      return { body: { ...w, active, failing_since: null, deactivated_reason: null } };
    };
    await opened(
      routes(() => [dead, failing], {
        [`PATCH /api/v2/webhooks/${dead.id}`]: patch(dead),
        [`PATCH /api/v2/webhooks/${failing.id}`]: patch(failing),
      }),
    );
    await screen.findByRole("table", { name: "Your webhooks" });
    fireEvent.click(screen.getByRole("button", { name: `Activate ${dead.url}` }));
    await waitFor(() => expect(screen.queryByRole("alert")).toBeNull());
    expect(within(row(dead.id)).getByText("active")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: `Pause ${failing.url}` }));
    expect(await within(row(failing.id)).findByText("paused")).toBeTruthy();
    expect(calls.map((c) => [c.path, c.body])).toEqual([
      [`/api/v2/webhooks/${dead.id}`, { active: true }],
      [`/api/v2/webhooks/${failing.id}`, { active: false }],
    ]);
  });

  it("say why the list could not be read", async () => {
    await opened(routes(() => [], { "GET /api/v2/webhooks": () => ({ status: 500, body: { detail: "the gateway is unwell" } }) }));
    expect(await screen.findByText("the gateway is unwell")).toBeTruthy();
    expect(screen.queryByText("Loading…")).toBeNull();
  });
});

describe("the delivery log", () => {
  function delivery(id: string, extra: Partial<Delivery> = {}): Delivery {
    return {
      event_id: id,
      event_type: "CollectionUpdated",
      collection_id: notes.id,
      status: "delivered",
      attempts: 1,
      last_status_code: 204,
      last_error: null,
      delivered_at: "2026-12-06T07:00:00Z",
      next_attempt_at: null,
      ...extra,
    };
  }

  it("shows each delivery's status, attempts and last answer, newest first, and refreshes", async () => {
    let log: Delivery[] = [
      delivery("e3", { status: "retrying", attempts: 3, last_status_code: 500, last_error: "Internal Server Error", delivered_at: null, next_attempt_at: "2026-12-06T08:00:00Z" }),
      delivery("e2", { status: "skipped", attempts: 0, last_status_code: null, collection_id: "c-gone", event_type: "DocumentFailed", delivered_at: null }),
      delivery("e1", { collection_id: null }),
    ];
    const calls: Call[] = [];
    const h = await opened(
      routes(() => [failing], {
        [`GET /api/v2/webhooks/${failing.id}/deliveries`]: (c) => (calls.push(c), { body: log }),
      }),
    );
    fireEvent.click(await screen.findByRole("button", { name: `Deliveries to ${failing.url}` }));
    const section = await screen.findByRole("region", { name: `Deliveries to ${failing.url}` });
    expect(document.activeElement?.textContent).toBe(`Deliveries to ${failing.url}`);
    const table = await within(section).findByRole("table", { name: "Deliveries" });
    expect(within(table).getAllByRole("row").slice(1).map((r) => r.dataset.testid)).toEqual(["delivery-e3", "delivery-e2", "delivery-e1"]);
    const cells = (id: string) => [...within(table).getByTestId(`delivery-${id}`).querySelectorAll("th, td")].map((c) => c.textContent);
    expect(cells("e3").slice(0, 5)).toEqual(["CollectionUpdated", "notes", "retrying", "3", "HTTP 500: Internal Server Error"]);
    expect(cells("e3")[5]).toMatch(/^next attempt \S/);
    expect(cells("e2")).toEqual(["DocumentFailed", "c-gone", "skipped", "0", "—", "—"]);
    expect(cells("e1").slice(1, 5)).toEqual(["—", "delivered", "1", "HTTP 204"]);
    expect(cells("e1")[5]).toMatch(/^delivered \S/);
    expect(within(table).getByText("retrying").className).toContain("badge");
    expect(calls[0].path).toBe(`/api/v2/webhooks/${failing.id}/deliveries?limit=50`);

    log = [delivery("e4", { status: "failed", attempts: 9, last_status_code: null, last_error: "connection refused", delivered_at: null }), ...log];
    fireEvent.click(within(section).getByRole("button", { name: "Refresh" }));
    expect(await within(section).findByTestId("delivery-e4")).toBeTruthy();
    expect(cells("e4").slice(2, 5)).toEqual(["failed", "9", "connection refused"]);
    expect(calls).toHaveLength(2);

    fireEvent.click(within(section).getByRole("button", { name: "Close" }));
    expect(screen.queryByRole("region", { name: /^Deliveries to/ })).toBeNull();
    expect(h.store.getState().route).toEqual({ name: "webhooks" });
  });

  it("says when nothing was delivered yet, and why the log could not be read", async () => {
    let answer: { status?: number; body?: unknown } = { body: [] };
    await opened(routes(() => [failing], { [`GET /api/v2/webhooks/${failing.id}/deliveries`]: () => answer }));
    fireEvent.click(await screen.findByRole("button", { name: `Deliveries to ${failing.url}` }));
    const section = await screen.findByRole("region", { name: `Deliveries to ${failing.url}` });
    expect(await within(section).findByText("Nothing delivered yet.")).toBeTruthy();
    answer = { status: 404, body: { detail: "webhook not found" } };
    fireEvent.click(within(section).getByRole("button", { name: "Refresh" }));
    expect((await within(section).findByRole("alert")).textContent).toBe("webhook not found");
    act(() => fireEvent.click(within(section).getByRole("button", { name: "Close" })));
    expect(screen.queryByRole("region", { name: /^Deliveries to/ })).toBeNull();
  });
});
