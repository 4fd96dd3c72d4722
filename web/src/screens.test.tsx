import { act, cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { App } from "./App";
import { collection, harness, operation, page, renderWith, type Call } from "./test-support";

afterEach(cleanup);

const notes = collection("notes", { description: "meeting notes", embed_precision: "int8" });
const wiki = collection("wiki", { status: "processing" });

function base(collections = [notes, wiki]) {
  return {
    "GET /api/v2/collections": () => ({ body: page(collections) }),
    "GET /api/v2/operations": () => ({ body: page(collections.includes(wiki) ? [operation(wiki.id)] : []) }),
  };
}

async function started(routes: Parameters<typeof harness>[0]) {
  const h = harness(routes);
  await h.store.getState().start();
  renderWith(h.store, <App />);
  return h;
}

describe("login", () => {
  it("signs in and shows the dashboard, or says why not", async () => {
    let tries = 0;
    const h = harness(
      {
        ...base(),
        "POST /api/v1/auth/login": () =>
          ++tries === 1 ? { status: 401, body: { detail: "wrong username or password" } } : { body: { access_token: "a", refresh_token: "r" } },
      },
      false,
    );
    renderWith(h.store, <App />);
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: "alice" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "a long password" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", "wrong username or password");
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { name: "Collections" })).toBeTruthy();
  });

  it("registers when asked", async () => {
    const calls: Call[] = [];
    const h = harness(
      {
        ...base([]),
        "POST /api/v1/auth/register": (c) => (calls.push(c), { status: 201, body: {} }),
        "POST /api/v1/auth/login": () => ({ body: { access_token: "a", refresh_token: "r" } }),
      },
      false,
    );
    renderWith(h.store, <App />);
    fireEvent.click(screen.getByRole("button", { name: /Create an account/ }));
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: "bob" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "another long one" } });
    fireEvent.click(screen.getByRole("button", { name: "Create account and sign in" }));
    expect(await screen.findByRole("heading", { name: "No collections yet" })).toBeTruthy();
    expect(calls[0].body).toEqual({ username: "bob", password: "another long one" });
  });
});

describe("dashboard", () => {
  it("guides the first collection when there is none", async () => {
    await started(base([]));
    expect(screen.getByRole("heading", { name: "No collections yet" })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Create your first collection" }));
    expect(screen.getByRole("dialog", { name: "Create a collection" })).toBeTruthy();
  });

  it("shows cards with status, counts, model and live progress, filtered", async () => {
    await started(base());
    const cards = screen.getByRole("list", { name: "Collections" });
    expect(within(cards).getAllByRole("listitem")).toHaveLength(2);
    const wikiCard = screen.getByTestId("card-wiki");
    expect(within(wikiCard).getByText("processing")).toBeTruthy();
    expect(within(wikiCard).getByRole("progressbar").getAttribute("aria-valuenow")).toBe("25");
    expect(within(screen.getByTestId("card-notes")).getByText("sentence-transformers/all-MiniLM-L6-v2")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Find"), { target: { value: "meeting" } });
    expect(within(cards).getAllByRole("listitem").map((li) => li.dataset.testid)).toEqual(["card-notes"]);
    fireEvent.change(screen.getByLabelText("Find"), { target: { value: "" } });
    fireEvent.change(screen.getByLabelText("Status"), { target: { value: "active" } });
    expect(within(cards).getAllByRole("listitem").map((li) => li.dataset.testid)).toEqual(["card-wiki"]);
    fireEvent.change(screen.getByLabelText("Status"), { target: { value: "error" } });
    expect(screen.getByText("No collection matches.")).toBeTruthy();
  });

  it("creates a collection with advanced settings and opens it", async () => {
    const made = collection("handbook");
    const h = await started({
      ...base(),
      "POST /api/v2/collections": (c) => {
        expect(c.body).toEqual({ name: "handbook", chunk_size: 128 });
        return { status: 201, body: made };
      },
      [`GET /api/v2/collections/${made.id}`]: () => ({ body: made }),
      [`GET /api/v2/collections/${made.id}/sources`]: () => ({ body: { items: [] } }),
      [`GET /api/v2/collections/${made.id}/operations`]: () => ({ body: page([]) }),
    });
    fireEvent.click(screen.getByRole("button", { name: "Create collection" }));
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "handbook" } });
    fireEvent.change(screen.getByLabelText("Chunk size (tokens)"), { target: { value: "128" } });
    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    expect(await screen.findByRole("heading", { name: /handbook/ })).toBeTruthy();
    expect(h.store.getState().route).toEqual({ name: "collection", id: made.id, tab: "overview" });
    expect(await screen.findByText(/No data yet/)).toBeTruthy();
  });

  it("shows the gateway's refusal inside the create dialog", async () => {
    await started({ ...base(), "POST /api/v2/collections": () => ({ status: 409, body: { detail: "a collection named notes exists" } }) });
    fireEvent.click(screen.getByRole("button", { name: "Create collection" }));
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "notes" } });
    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    const dialog = screen.getByRole("dialog");
    expect(await within(dialog).findByText("a collection named notes exists")).toBeTruthy();
  });
});

function details(extra: Record<string, Parameters<typeof harness>[0][string]> = {}) {
  return {
    ...base(),
    [`GET /api/v2/collections/${notes.id}`]: () => ({ body: notes }),
    [`GET /api/v2/collections/${notes.id}/sources`]: () => ({
      body: { items: [{ id: "s1", collection_id: notes.id, kind: "directory", path: "/srv/notes", text_columns: [], context_columns: [], id_column: null, created_at: "" }] },
    }),
    [`GET /api/v2/collections/${notes.id}/operations`]: () => ({
      body: page([operation(notes.id, { id: "done", status: "completed", processed: 7, failures: [{ path: "/srv/notes/locked.pdf", reason: "encrypted PDF" }] })]),
    }),
    [`GET /api/v2/collections/${notes.id}/documents`]: () => ({
      body: page([
        { id: "d1", path: "/srv/notes/a.md", source_id: "s1", status: "indexed", reason: "", size: 2048, chunk_count: 3 },
        { id: null, path: "/srv/notes/locked.pdf", source_id: "s1", status: "failed", reason: "encrypted PDF", size: 0, chunk_count: 0 },
      ]),
    }),
    ...extra,
  };
}

async function openNotes(tab: string, extra = {}) {
  const h = harness(details(extra));
  await h.store.getState().start();
  h.store.setState({ route: { name: "collection", id: notes.id, tab: tab as "overview" } });
  renderWith(h.store, <App />);
  return h;
}

describe("collection details", () => {
  it("overview lists counts, settings and sources; tabs move with the arrow keys", async () => {
    const h = await openNotes("overview");
    expect(await screen.findByText("/srv/notes")).toBeTruthy();
    expect(screen.getByText("256 tokens, 25 overlap")).toBeTruthy();
    // The precision the searched vectors were encoded in (issue 28).
    expect(screen.getByText(/384 dimensions\s*, vectors in int8/)).toBeTruthy();
    const tab = screen.getByRole("tab", { name: "Overview" });
    expect(tab.getAttribute("aria-selected")).toBe("true");
    fireEvent.keyDown(tab, { key: "ArrowRight" });
    expect(h.store.getState().route).toMatchObject({ tab: "sources" });
    fireEvent.keyDown(screen.getByRole("tab", { name: "Sources" }), { key: "ArrowLeft" });
    fireEvent.keyDown(screen.getByRole("tab", { name: "Overview" }), { key: "ArrowLeft" });
    expect(h.store.getState().route).toMatchObject({ tab: "settings" });
  });

  it("operations tab shows what an operation did and which files failed", async () => {
    await openNotes("operations");
    expect(await screen.findByText(/7 chunks embedded/)).toBeTruthy();
    expect(screen.getByText("1 file could not be indexed")).toBeTruthy();
    expect(screen.getByText(/encrypted PDF/)).toBeTruthy();
  });

  it("files tab lists documents with status and failure reasons, each a link to its view", async () => {
    const h = await openNotes("files");
    const rows = await screen.findAllByRole("row");
    expect(rows.map((r) => r.textContent)).toEqual([
      "PathStatusChunksSizeReason",
      "/srv/notes/a.mdindexed32.0 KB",
      "/srv/notes/locked.pdffailed00 Bencrypted PDF",
    ]);
    // An indexed document opens in the document view; a failed one has none.
    expect(screen.queryByRole("link", { name: "/srv/notes/locked.pdf" })).toBeNull();
    fireEvent.click(screen.getByRole("link", { name: "/srv/notes/a.md" }));
    expect(h.store.getState().route).toEqual({ name: "document", id: notes.id, documentId: "d1", chunk: null });
  });

  it("reindex waits for a change and for the typed name", async () => {
    const h = await openNotes("settings", {
      [`POST /api/v2/collections/${notes.id}/operations/reindex`]: (c: Call) => {
        expect(c.body).toEqual({ chunk_size: 128 });
        return { status: 202, body: operation(notes.id, { id: "re", type: "reindex", status: "pending", progress: 0 }) };
      },
    });
    const start = screen.getByRole("button", { name: "Reindex with these settings…" });
    expect(start).toHaveProperty("disabled", true);
    fireEvent.change(screen.getByLabelText("Chunk size (tokens)"), { target: { value: "128" } });
    fireEvent.click(start);
    const dialog = screen.getByRole("dialog", { name: "Reindex notes" });
    expect(within(dialog).getByRole("row", { name: /Chunk size 256 128/ })).toBeTruthy();
    expect(within(dialog).getByRole("row", { name: /Chunk overlap 25 the default for the new size/ })).toBeTruthy();
    const confirm = within(dialog).getByRole("button", { name: "Reindex" });
    fireEvent.change(within(dialog).getByLabelText(/to confirm/), { target: { value: "note" } });
    expect(confirm).toHaveProperty("disabled", true);
    fireEvent.change(within(dialog).getByLabelText(/to confirm/), { target: { value: "notes" } });
    fireEvent.click(confirm);
    await waitFor(() => expect(h.store.getState().route).toMatchObject({ tab: "operations" }));
    expect(h.store.getState().collections[notes.id].status).toBe("reindexing");
  });

  it("delete needs the typed name and goes back to the dashboard", async () => {
    const h = await openNotes("settings", { [`DELETE /api/v2/collections/${notes.id}`]: () => ({ status: 204 }) });
    fireEvent.click(screen.getByRole("button", { name: "Delete collection…" }));
    const dialog = screen.getByRole("dialog", { name: "Delete notes" });
    const confirm = within(dialog).getByRole("button", { name: "Delete collection" });
    expect(confirm).toHaveProperty("disabled", true);
    fireEvent.change(within(dialog).getByLabelText(/to confirm/), { target: { value: "notes" } });
    fireEvent.click(confirm);
    await waitFor(() => expect(h.store.getState().route).toEqual({ name: "dashboard" }));
    expect(h.store.getState().collections[notes.id]).toBeUndefined();
  });

  it("add data: a server path, then a CSV upload with its columns chosen from a preview", async () => {
    const calls: Call[] = [];
    const accepted = (c: Call) => (calls.push(c), { status: 202, body: { source: {}, operation: operation(notes.id, { id: `op${calls.length}` }) } });
    const uploaded = (c: Call) => (
      calls.push(c), { status: 202, body: { files: [{ filename: "tickets.csv", source: {}, operation: operation(notes.id, { id: "up" }), error: null }] } }
    );
    const h = await openNotes("overview", {
      [`POST /api/v2/collections/${notes.id}/sources`]: accepted,
      [`POST /api/v2/collections/${notes.id}/sources/uploads`]: uploaded,
    });
    fireEvent.click(screen.getByRole("button", { name: "Add data" }));
    fireEvent.change(screen.getByLabelText(/Server path/), { target: { value: "/srv/more" } });
    fireEvent.click(screen.getByRole("button", { name: "Add and index" }));
    await waitFor(() => expect(h.store.getState().route).toMatchObject({ tab: "operations" }));
    expect(calls[0].body).toEqual({ path: "/srv/more", text_columns: [], context_columns: [], id_column: null });

    fireEvent.click(screen.getByRole("button", { name: "Add data" }));
    fireEvent.click(screen.getByLabelText("Upload files"));
    const csv = new File(["ticket_id,title,body,team\n1,a,b,c\n"], "tickets.csv", { type: "text/csv" });
    await act(async () => {
      fireEvent.change(screen.getByLabelText(/^File/), { target: { files: [csv] } });
    });
    expect(await screen.findByText("Columns found (4)")).toBeTruthy();
    fireEvent.click(screen.getByLabelText("Embed body"));
    fireEvent.click(screen.getByLabelText("Embed title"));
    fireEvent.click(screen.getByLabelText("Keep team as context"));
    fireEvent.change(screen.getByLabelText("Id column"), { target: { value: "ticket_id" } });
    fireEvent.click(screen.getByRole("button", { name: "Add and index" }));
    await waitFor(() => expect(calls).toHaveLength(2));
    const form = calls[1].body as FormData;
    expect(form.getAll("text_columns")).toEqual(["body", "title"]);
    expect(form.getAll("context_columns")).toEqual(["team"]);
    expect(form.get("id_column")).toBe("ticket_id");
  });

  it("a table on the server: its columns read by the gateway, then chosen", async () => {
    const calls: Call[] = [];
    await openNotes("overview", {
      [`POST /api/v2/collections/${notes.id}/sources/preview`]: (c: Call) =>
        c.body && (c.body as { path: string }).path === "/srv/missing.csv"
          ? { status: 400, body: { detail: "/srv/missing.csv does not exist" } }
          : { body: { path: "/srv/data/t.csv", kind: "file", columns: ["id", "title", "body"] } },
      [`POST /api/v2/collections/${notes.id}/sources`]: (c: Call) => (calls.push(c), { status: 202, body: { source: {}, operation: operation(notes.id) } }),
    });
    fireEvent.click(screen.getByRole("button", { name: "Add data" }));
    fireEvent.change(screen.getByLabelText(/Server path/), { target: { value: "/srv/missing.csv" } });
    fireEvent.click(screen.getByRole("button", { name: "Read its columns" }));
    expect(await screen.findByText("/srv/missing.csv does not exist")).toBeTruthy();
    fireEvent.change(screen.getByLabelText(/Server path/), { target: { value: "/srv/data/../data/t.csv" } });
    fireEvent.click(screen.getByRole("button", { name: "Read its columns" }));
    expect(await screen.findByText("Columns found (3)")).toBeTruthy();
    expect(within(screen.getByRole("dialog")).getByRole("status").textContent).toBe("A file on the server: /srv/data/t.csv");
    fireEvent.click(screen.getByLabelText("Embed body"));
    fireEvent.change(screen.getByLabelText("Id column"), { target: { value: "id" } });
    fireEvent.click(screen.getByRole("button", { name: "Add and index" }));
    await waitFor(() => expect(calls).toHaveLength(1));
    expect(calls[0].body).toEqual({ path: "/srv/data/../data/t.csv", text_columns: ["body"], context_columns: [], id_column: "id" });
  });

  it("a record file on the server takes its columns by name", async () => {
    const calls: Call[] = [];
    await openNotes("overview", {
      [`POST /api/v2/collections/${notes.id}/sources`]: (c: Call) => (calls.push(c), { status: 422, body: { detail: "column 'bdy' not found; columns: id, body" } }),
    });
    fireEvent.click(screen.getByRole("button", { name: "Add data" }));
    fireEvent.change(screen.getByLabelText(/Server path/), { target: { value: "/srv/t.csv" } });
    fireEvent.change(screen.getByLabelText("Text columns (embedded)"), { target: { value: "bdy, title" } });
    fireEvent.click(screen.getByRole("button", { name: "Add and index" }));
    expect(await screen.findByText("column 'bdy' not found; columns: id, body")).toBeTruthy();
    expect(calls[0].body).toMatchObject({ text_columns: ["bdy", "title"] });
  });
});

describe("search", () => {
  it("searches many collections and groups the results with the server's highlights and warnings", async () => {
    const h = await started({
      ...base(),
      "POST /api/v2/search": () => ({
        body: {
          results: [
            {
              collection_id: wiki.id,
              document_id: "1",
              chunk_id: "k1",
              path: "/w/pricing.md",
              text: "Pricing was decided in May.",
              score: 0.9,
              rank: 1,
              metadata: {},
              highlights: [[0, 7], [12, 19]],
              snippet: "Pricing was decided in May.",
              snippet_start: 0,
              snippet_highlights: [[0, 7], [12, 19]],
            },
            { collection_id: notes.id, document_id: "2", chunk_id: "k2", path: "/n/q3.md", text: "We keep the price.", score: 0.5, rank: 2, metadata: {} },
          ],
          warnings: ["collection archive did not answer in time"],
          partial: true,
          took_ms: 42.4,
        },
      }),
    });
    act(() => h.store.getState().navigate({ name: "search" }));
    fireEvent.click(screen.getByRole("button", { name: "Select all" }));
    fireEvent.change(screen.getByLabelText("Query"), { target: { value: "pricing decided" } });
    fireEvent.change(screen.getByLabelText("Mode"), { target: { value: "dense" } });
    fireEvent.click(screen.getByRole("button", { name: "Search" }));
    expect(await screen.findByText(/2 results in 42 ms/)).toBeTruthy();
    const groups = screen.getAllByRole("region", { name: /Results from/ });
    expect(groups.map((g) => g.getAttribute("aria-label"))).toEqual(["Results from wiki", "Results from notes"]);
    expect([...groups[0].querySelectorAll("mark")].map((m) => m.textContent)).toEqual(["Pricing", "decided"]);
    expect(screen.getByText("collection archive did not answer in time")).toBeTruthy();
    expect(screen.getByText("partial")).toBeTruthy();
    expect(h.store.getState().mode).toBe("dense");
  });

  it("says what is missing before searching", async () => {
    const h = await started(base());
    act(() => h.store.getState().navigate({ name: "search" }));
    fireEvent.change(screen.getByLabelText("Query"), { target: { value: "x" } });
    fireEvent.click(screen.getByRole("button", { name: "Search" }));
    expect(await screen.findByText("Pick at least one collection to search.")).toBeTruthy();
  });
});

describe("active operations and the top bar", () => {
  it("lists running operations with links to their collection", async () => {
    const h = await started(base());
    fireEvent.click(screen.getByRole("link", { name: "Active operations (1)" }));
    const item = screen.getByRole("list", { name: "Active operations" });
    expect(within(item).getByRole("progressbar").getAttribute("aria-valuetext")).toBe("25 % · 5 of 20 chunks");
    fireEvent.click(within(item).getByRole("link", { name: "wiki" }));
    expect(h.store.getState().route).toEqual({ name: "collection", id: wiki.id, tab: "operations" });
  });

  it("shows the live state and signs out", async () => {
    const h = await started({ ...base([]), "POST /api/v1/auth/logout": () => ({ status: 204 }) });
    act(() => h.sockets[0].open());
    expect(screen.getByRole("status", { name: "Live updates: Live" })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Sign out" }));
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeTruthy();
  });
});
