import { act, cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { App } from "./App";
import type { Source } from "./lib/types";
import { collection, harness, operation, page, renderWith, type Call, type Handler } from "./test-support";

afterEach(cleanup);

const notes = collection("notes");
const base = `/api/v2/collections/${notes.id}`;

function source(id: string, extra: Partial<Source> = {}): Source {
  return {
    id,
    collection_id: notes.id,
    kind: "directory",
    path: `/srv/${id}`,
    text_columns: [],
    context_columns: [],
    id_column: null,
    created_at: "2026-12-01T10:00:00Z",
    sync: { watch: false, interval_minutes: null },
    sync_status: "off",
    sync_reason: "",
    last_sync_at: null,
    next_sync_at: null,
    versions: [],
    ...extra,
  };
}

const folder = source("docs", {
  sync: { watch: true, interval_minutes: 60 },
  sync_status: "active",
  last_sync_at: "2026-12-01T11:00:00Z",
  next_sync_at: "2026-12-01T12:00:00Z",
});
const prices = source("prices", {
  kind: "upload",
  path: "upload://id-notes/prices.csv",
  text_columns: ["title"],
  versions: [
    { version: 1, size: 2048, uploaded_at: "2026-12-01T09:00:00Z" },
    { version: 2, size: 4096, uploaded_at: "2026-12-01T10:00:00Z" },
  ],
});

const docs = [
  { id: "d1", path: "/srv/docs/a.md", source_id: "docs", status: "indexed", reason: "", size: 1024, chunk_count: 2 },
  { id: "d2", path: "/srv/docs/b.md", source_id: "docs", status: "indexed", reason: "", size: 1024, chunk_count: 1 },
  { id: null, path: "/srv/docs/c.pdf", source_id: "docs", status: "failed", reason: "encrypted", size: 9, chunk_count: 0 },
  { id: "d3", path: "prices.csv#1", source_id: "prices", status: "indexed", reason: "", size: 100, chunk_count: 1 },
];

async function openSources(extra: Record<string, Handler> = {}, sources = [folder, prices]) {
  const calls: Call[] = [];
  const h = harness({
    "GET /api/v2/collections": () => ({ body: page([notes]) }),
    "GET /api/v2/operations": () => ({ body: page([]) }),
    [`GET ${base}`]: () => ({ body: notes }),
    [`GET ${base}/sources`]: () => ({ body: { items: sources } }),
    [`GET ${base}/documents`]: () => ({ body: page(docs) }),
    [`GET ${base}/column-sets`]: () => ({ body: { items: [] } }),
    ...Object.fromEntries(Object.entries(extra).map(([k, f]) => [k, (c: Call) => (calls.push(c), f(c))])),
  });
  await h.store.getState().start();
  h.store.setState({ route: { name: "collection", id: notes.id, tab: "sources" } });
  renderWith(h.store, <App />);
  await screen.findByRole("list", { name: "Sources" });
  return { h, calls };
}

const card = (path: string) => screen.getByRole("listitem", { name: `Source ${path}` });

describe("sources tab", () => {
  it("shows each source's kind, versions, sync settings, documents and size", async () => {
    await openSources();
    const docsCard = card("/srv/docs");
    expect(within(docsCard).getByText("folder")).toBeTruthy();
    expect(within(docsCard).getByText("sync active")).toBeTruthy();
    expect(within(docsCard).getByText("watching, every 60 min")).toBeTruthy();
    expect(within(docsCard).getByTestId("last-sync").textContent).toBe(new Date("2026-12-01T11:00:00Z").toLocaleString());
    expect(within(docsCard).getByText(new Date("2026-12-01T12:00:00Z").toLocaleString())).toBeTruthy();
    // Two documents (the failed file holds none), 2 KB.
    await waitFor(() => expect(within(docsCard).getByText("2")).toBeTruthy());
    expect(within(docsCard).getByText("2.0 KB")).toBeTruthy();
    expect(within(docsCard).getByRole("checkbox", { name: "Watch for changes" })).toHaveProperty("checked", true);

    const upload = card("upload://id-notes/prices.csv");
    expect(within(upload).getByText("upload")).toBeTruthy();
    expect(within(upload).getByText("2 versions")).toBeTruthy();
    const versions = within(upload).getByRole("list", { name: "Versions of upload://id-notes/prices.csv" });
    expect(within(versions).getAllByRole("listitem").map((li) => li.textContent)).toEqual([
      `version 1 · 2.0 KB · uploaded ${new Date("2026-12-01T09:00:00Z").toLocaleString()}`,
      `version 2 · 4.0 KB · uploaded ${new Date("2026-12-01T10:00:00Z").toLocaleString()} (indexed)`,
    ]);
    // An upload has no folder to watch; a stopped watcher says why.
    expect(within(upload).queryByRole("checkbox", { name: "Watch for changes" })).toBeNull();
    cleanup();
    await openSources({}, [source("gone", { sync: { watch: true, interval_minutes: null }, sync_status: "stopped", sync_reason: "the folder /srv/gone was deleted" })]);
    expect(within(card("/srv/gone")).getByRole("alert").textContent).toBe("the folder /srv/gone was deleted");
  });

  it("re-scan now starts an index of that source, and the queue shows it", async () => {
    const { h, calls } = await openSources({
      [`POST ${base}/sources/docs/index`]: () => ({
        status: 202,
        body: {
          source: source("docs"),
          operation: operation(notes.id, { id: "scan", type: "index", status: "queued", queue_position: 1, progress: 0 }),
        },
      }),
    });
    fireEvent.click(screen.getByRole("button", { name: "Re-scan /srv/docs now" }));
    expect(await within(card("/srv/docs")).findByText("index: Queued: next")).toBeTruthy();
    expect(calls[0]).toMatchObject({ method: "POST", path: `${base}/sources/docs/index` });
    expect(h.store.getState().operations.scan.status).toBe("queued");
  });

  it("removal waits for the source's path typed in full", async () => {
    const { h, calls } = await openSources({
      [`DELETE ${base}/sources/docs`]: () => ({
        status: 202,
        body: { source: folder, operation: operation(notes.id, { id: "rm", type: "remove_source", status: "pending" }) },
      }),
    });
    fireEvent.click(screen.getByRole("button", { name: "Remove source /srv/docs…" }));
    const dialog = screen.getByRole("dialog", { name: "Remove a source" });
    const remove = within(dialog).getByRole("button", { name: "Remove source and its documents" });
    expect(remove).toHaveProperty("disabled", true);
    fireEvent.change(within(dialog).getByLabelText(/to confirm/), { target: { value: "/srv/doc" } });
    expect(remove).toHaveProperty("disabled", true);
    expect(calls).toHaveLength(0);
    fireEvent.change(within(dialog).getByLabelText(/to confirm/), { target: { value: "/srv/docs" } });
    fireEvent.click(remove);
    await waitFor(() => expect(screen.queryByRole("listitem", { name: "Source /srv/docs" })).toBeNull());
    expect(calls[0]).toMatchObject({ method: "DELETE", path: `${base}/sources/docs` });
    expect(h.store.getState().operations.rm.type).toBe("remove_source");
  });

  it("toggling watch and saving a schedule send PATCH sync", async () => {
    const plain = source("plain");
    const { calls } = await openSources(
      {
        [`PATCH ${base}/sources/plain`]: (c) => ({ body: { source: { ...plain, ...(c.body as object), sync_status: "pending" }, operation: null } }),
      },
      [plain],
    );
    const watch = within(card("/srv/plain")).getByRole("checkbox", { name: "Watch for changes" });
    fireEvent.click(watch);
    await waitFor(() => expect(watch).toHaveProperty("checked", true));
    expect(calls[0].body).toEqual({ sync: { watch: true, interval_minutes: null } });
    expect(within(card("/srv/plain")).getByText("sync pending")).toBeTruthy();

    const save = within(card("/srv/plain")).getByRole("button", { name: "Save schedule" });
    expect(save).toHaveProperty("disabled", true);
    fireEvent.change(within(card("/srv/plain")).getByLabelText("Re-scan every (minutes)"), { target: { value: "0" } });
    expect(save).toHaveProperty("disabled", true);
    fireEvent.change(within(card("/srv/plain")).getByLabelText("Re-scan every (minutes)"), { target: { value: "15" } });
    fireEvent.click(save);
    await waitFor(() => expect(calls).toHaveLength(2));
    expect(calls[1].body).toEqual({ sync: { watch: true, interval_minutes: 15 } });
    expect(await within(card("/srv/plain")).findByText("watching, every 15 min")).toBeTruthy();
  });

  it("a viewer sees the sources but none of their actions", async () => {
    const h = harness({
      "GET /api/v2/collections": () => ({ body: page([{ ...notes, my_role: "viewer" }]) }),
      "GET /api/v2/operations": () => ({ body: page([]) }),
      [`GET ${base}`]: () => ({ body: { ...notes, my_role: "viewer" } }),
      [`GET ${base}/sources`]: () => ({ body: { items: [folder] } }),
      [`GET ${base}/documents`]: () => ({ body: page(docs) }),
    });
    await h.store.getState().start();
    h.store.setState({ route: { name: "collection", id: notes.id, tab: "sources" } });
    renderWith(h.store, <App />);
    expect(await within(await screen.findByRole("list", { name: "Sources" })).findByText("watching, every 60 min")).toBeTruthy();
    expect(screen.queryByRole("button", { name: /Re-scan|Remove|Edit columns/ })).toBeNull();
    expect(screen.queryByRole("checkbox", { name: "Watch for changes" })).toBeNull();
  });

  it("a refused change says why", async () => {
    await openSources({ [`PATCH ${base}/sources/docs`]: () => ({ status: 409, body: { detail: "source docs is being removed" } }) });
    fireEvent.click(within(card("/srv/docs")).getByRole("checkbox", { name: "Watch for changes" }));
    expect((await screen.findByRole("alert")).textContent).toContain("source docs is being removed");
  });
});

describe("columns of a source", () => {
  const table = source("tickets", { kind: "file", path: "/srv/tickets.csv", text_columns: ["title"], context_columns: [], id_column: "id" });
  const saved = { name: "full", text_columns: ["title", "body"], context_columns: ["team"], id_column: "id", saved_by: "alice", saved_at: "2026-12-01T08:00:00Z" };

  it("new columns re-embed the source (PATCH) and show its staged operation; the choice is saved as a set", async () => {
    const { calls } = await openSources(
      {
        [`POST ${base}/sources/preview`]: () => ({ body: { path: "/srv/tickets.csv", kind: "file", columns: ["id", "title", "body", "team"] } }),
        [`PATCH ${base}/sources/tickets`]: (c) => ({
          status: 202,
          body: { source: { ...table, ...(c.body as object) }, operation: operation(notes.id, { id: "re", type: "index", status: "queued", queue_position: 2 }) },
        }),
        [`POST ${base}/column-sets`]: (c) => ({ status: 201, body: { ...(c.body as object), saved_by: "alice", saved_at: "now" } }),
      },
      [table],
    );
    fireEvent.click(screen.getByRole("button", { name: "Edit columns of /srv/tickets.csv" }));
    const dialog = screen.getByRole("dialog", { name: "Columns of /srv/tickets.csv" });
    expect(await within(dialog).findByText("Columns found (4)")).toBeTruthy();
    fireEvent.click(within(dialog).getByLabelText("Embed body"));
    fireEvent.click(within(dialog).getByLabelText("Keep team as context"));
    fireEvent.change(within(dialog).getByLabelText("Save these columns as a set"), { target: { value: "with body" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Save set" }));
    expect(await within(dialog).findByText("Saved as “with body”.")).toBeTruthy();
    expect(within(dialog).getByRole("option", { name: "with body: title, body" })).toBeTruthy();
    fireEvent.click(within(dialog).getByRole("button", { name: "Re-embed" }));
    expect(await within(card("/srv/tickets.csv")).findByText("index: Queued: 2nd in line")).toBeTruthy();
    const choice = { text_columns: ["title", "body"], context_columns: ["team"], id_column: "id" };
    expect(calls.map((c) => [c.method, c.path, c.body])).toEqual([
      ["POST", `${base}/sources/preview`, { path: "/srv/tickets.csv" }],
      ["POST", `${base}/column-sets`, { name: "with body", ...choice }],
      ["PATCH", `${base}/sources/tickets`, choice],
    ]);
    expect(within(card("/srv/tickets.csv")).getByText("title, body")).toBeTruthy();
  });

  it("a saved set is restored into the form and applied by name", async () => {
    const { calls } = await openSources(
      {
        [`GET ${base}/column-sets`]: () => ({ body: { items: [saved] } }),
        [`POST ${base}/sources/preview`]: () => ({ status: 400, body: { detail: "gone" } }),
        [`POST ${base}/sources/reembed`]: () => ({
          status: 202,
          body: { items: [{ source: { ...table, text_columns: saved.text_columns }, operation: operation(notes.id, { id: "set", type: "index", status: "pending" }) }] },
        }),
      },
      [table],
    );
    fireEvent.click(screen.getByRole("button", { name: "Edit columns of /srv/tickets.csv" }));
    const dialog = screen.getByRole("dialog", { name: "Columns of /srv/tickets.csv" });
    await within(dialog).findByRole("option", { name: "full: title, body" });
    fireEvent.change(within(dialog).getByLabelText("Restore a saved set"), { target: { value: "full" } });
    // Columns the server could not read are named by hand: the set fills them in.
    expect(within(dialog).getByLabelText<HTMLInputElement>("Text columns (embedded)").value).toBe("title, body");
    expect(within(dialog).getByLabelText<HTMLInputElement>(/Context columns/).value).toBe("team");
    fireEvent.click(within(dialog).getByRole("button", { name: "Re-embed" }));
    expect(await within(card("/srv/tickets.csv")).findByText("index: pending")).toBeTruthy();
    expect(calls.at(-1)).toMatchObject({ path: `${base}/sources/reembed`, body: { source_ids: ["tickets"], column_set: "full" } });
  });
});

describe("files and uploads", () => {
  it("a page that shows a pending document is read again until it is indexed", async () => {
    let reads = 0;
    const h = harness({
      "GET /api/v2/collections": () => ({ body: page([notes]) }),
      "GET /api/v2/operations": () => ({ body: page([]) }),
      [`GET ${base}`]: () => ({ body: notes }),
      [`GET ${base}/documents`]: () => {
        reads += 1;
        const status = reads < 2 ? "pending" : "indexed";
        return { body: page([{ ...docs[0], status }]) };
      },
    });
    await h.store.getState().start();
    h.store.setState({ route: { name: "collection", id: notes.id, tab: "files" } });
    const { container } = renderWith(h.store, <App />);
    await waitFor(() => expect(container.querySelectorAll("tr.doc-pending").length).toBe(1));
    // Nothing about the collection changed: the tab reads the page again by itself.
    await waitFor(() => expect(container.querySelectorAll("tr.doc-indexed").length).toBe(1), { timeout: 5000 });
    const settled = reads;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(reads).toBe(settled); // no pending row left: no more reads
  }, 15_000);

  it("the Files tab pages through 1200 documents", async () => {
    const offsets: number[] = [];
    const h = harness({
      "GET /api/v2/collections": () => ({ body: page([notes]) }),
      "GET /api/v2/operations": () => ({ body: page([]) }),
      [`GET ${base}`]: () => ({ body: notes }),
      [`GET ${base}/documents`]: (c) => {
        const q = new URLSearchParams(c.path.split("?")[1]);
        const offset = Number(q.get("offset"));
        const limit = Number(q.get("limit"));
        offsets.push(offset);
        const items = Array.from({ length: Math.min(limit, 1200 - offset) }, (_, i) => ({
          id: `d${offset + i}`, path: `/srv/f${offset + i}.md`, source_id: "s", status: "indexed", reason: "", size: 10, chunk_count: 1,
        }));
        return { body: { items, total: 1200, limit, offset } };
      },
      [`POST ${base}/documents/retry`]: () => ({
        status: 202,
        body: operation(notes.id, { id: "retry", type: "index", status: "queued", queue_position: 1 }),
      }),
    });
    await h.store.getState().start();
    h.store.setState({ route: { name: "collection", id: notes.id, tab: "files" } });
    renderWith(h.store, <App />);
    const pager = await screen.findByRole("navigation", { name: "Pages of files" });
    expect(within(screen.getByRole("tabpanel")).getByRole("status").textContent).toBe("1–100 of 1,200");
    const next = within(pager).getByRole("button", { name: "Next" });
    for (let i = 0; i < 5; i++) {
      await act(async () => fireEvent.click(next));
    }
    // Past the 500 the tab used to stop at.
    expect(await screen.findByText("/srv/f500.md")).toBeTruthy();
    expect(within(pager).getByText("Page 6 of 12")).toBeTruthy();
    await act(async () => fireEvent.click(within(pager).getByRole("button", { name: "Last" })));
    expect(await screen.findByText("/srv/f1199.md")).toBeTruthy();
    expect(within(screen.getByRole("tabpanel")).getByRole("status").textContent).toBe("1,101–1,200 of 1,200");
    expect(within(pager).getByText("Page 12 of 12")).toBeTruthy();
    expect(next).toHaveProperty("disabled", true);
    expect(offsets.at(-1)).toBe(1100);
    await act(async () => fireEvent.click(within(pager).getByRole("button", { name: "Previous" })));
    expect(await screen.findByText("/srv/f1000.md")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Show"), { target: { value: "failed" } });
    await waitFor(() => expect(offsets.at(-1)).toBe(0));
    expect(offsets).toEqual([0, 100, 200, 300, 400, 500, 1100, 1000, 0]);
    // The failures processed again: one operation, shown with its place in the queue.
    fireEvent.click(await screen.findByRole("button", { name: "Retry failed documents" }));
    expect(await screen.findByText("Retry: Queued: next")).toBeTruthy();
    expect(h.store.getState().operations.retry.type).toBe("index");
  }, 20_000);

  it("several files upload at once, kept as separate sources when asked; a refused one says why", async () => {
    const { h, calls } = await openSources({
      [`POST ${base}/sources/uploads`]: () => ({
        status: 202,
        body: {
          files: [
            { filename: "a.md", source: source("a"), operation: operation(notes.id, { id: "ua", status: "pending" }), error: null },
            { filename: "b.exe", source: null, operation: null, error: { status: 400, code: "invalid", detail: "unsupported file type .exe" } },
          ],
        },
      }),
    });
    fireEvent.click(screen.getByRole("button", { name: "Add data" }));
    fireEvent.click(screen.getByLabelText("Upload files"));
    const files = [new File(["# a"], "a.md"), new File(["MZ"], "b.exe")];
    await act(async () => fireEvent.change(screen.getByLabelText(/^Files/), { target: { files } }));
    fireEvent.click(screen.getByLabelText(/Keep as a separate source/));
    fireEvent.click(screen.getByRole("button", { name: "Add and index" }));
    expect((await screen.findByText(/Not added/)).parentElement?.textContent).toContain("b.exe: unsupported file type .exe");
    const form = calls[0].body as FormData;
    expect((form.getAll("file") as File[]).map((f) => f.name)).toEqual(["a.md", "b.exe"]);
    expect(form.get("keep_versions")).toBe("true");
    expect(h.store.getState().operations.ua.status).toBe("pending");
  });

  it("an uploaded table can take a saved set's columns", async () => {
    const { calls } = await openSources({
      [`GET ${base}/column-sets`]: () => ({
        body: { items: [{ name: "full", text_columns: ["title", "body"], context_columns: [], id_column: null, saved_by: "alice", saved_at: "" }] },
      }),
      [`POST ${base}/sources/uploads`]: () => ({
        status: 202,
        body: { files: [{ filename: "t.csv", source: source("t"), operation: operation(notes.id, { id: "ut" }), error: null }] },
      }),
    });
    fireEvent.click(screen.getByRole("button", { name: "Add data" }));
    fireEvent.click(screen.getByLabelText("Upload files"));
    const csv = new File(["id,title,body\n1,a,b\n"], "t.csv", { type: "text/csv" });
    await act(async () => fireEvent.change(screen.getByLabelText(/^Files/), { target: { files: [csv] } }));
    fireEvent.change(await screen.findByLabelText("Columns from a saved set"), { target: { value: "full" } });
    // The set's columns replace the picker.
    expect(screen.queryByText("Columns found (3)")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Add and index" }));
    await waitFor(() => expect(calls.filter((c) => c.method === "POST")).toHaveLength(1));
    const form = calls.find((c) => c.method === "POST")?.body as FormData;
    expect(form.get("column_set")).toBe("full");
    expect(form.getAll("text_columns")).toEqual([]);
    expect(form.get("keep_versions")).toBeNull();
  });
});
