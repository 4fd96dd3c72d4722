/** The search screen of issue 26 and the document view, over a fake gateway. */
import { act, cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "./App";
import type { Call } from "./test-support";
import { collection, harness, page, renderWith } from "./test-support";
import type { DocumentDetail, SearchResponse, SearchResult, Source } from "./lib/types";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const tickets = collection("tickets");
const source: Source = {
  id: "s1",
  collection_id: tickets.id,
  kind: "upload",
  path: "tickets.csv",
  text_columns: ["title", "body"],
  context_columns: ["team"],
  id_column: "ticket_id",
  created_at: "",
};

function result(n: number, extra: Partial<SearchResult> = {}): SearchResult {
  return {
    collection_id: tickets.id,
    document_id: `doc-${n}`,
    chunk_id: `chunk-${n}`,
    path: `/t/${n}.md`,
    text: `Result ${n} text`,
    score: 1 - n / 100,
    rank: n,
    metadata: { chunk_index: 0 },
    highlights: [],
    snippet: `Result ${n} text`,
    snippet_start: 0,
    snippet_highlights: [],
    ...extra,
  };
}

function answer(results: SearchResult[], extra: Partial<SearchResponse> = {}): SearchResponse {
  return { results, warnings: [], partial: false, took_ms: 5, offset: 0, has_more: false, ...extra };
}

type Routes = Parameters<typeof harness>[0];

async function searchScreen(routes: Routes) {
  const calls: Call[] = [];
  const h = harness({
    "GET /api/v2/collections": () => ({ body: page([tickets]) }),
    "GET /api/v2/operations": () => ({ body: page([]) }),
    [`GET /api/v2/collections/${tickets.id}/sources`]: () => ({ body: { items: [source] } }),
    ...routes,
  });
  await h.store.getState().start();
  renderWith(h.store, <App />);
  act(() => h.store.getState().navigate({ name: "search" }));
  fireEvent.click(screen.getByRole("checkbox", { name: "tickets" }));
  fireEvent.change(screen.getByLabelText("Query"), { target: { value: "pricing decision" } });
  const searches = () => h.calls.filter((c) => c.path === "/api/v2/search").map((c) => c.body as Record<string, unknown>);
  return { h, calls, searches };
}

function submit() {
  fireEvent.click(screen.getByRole("button", { name: "Search" }));
}

describe("results", () => {
  it("mark exactly the snippet's offsets, and the whole chunk's on expand", async () => {
    const text = "Intro. 🙂 The pricing decision was taken. The decided price holds.";
    // Offsets count code points, as the server does: the emoji is one.
    const at = (word: string) => [...text.slice(0, text.indexOf(word))].length;
    const span = (word: string): [number, number] => [at(word), at(word) + word.length];
    const snippetText = "The pricing decision was taken.";
    const hit = result(1, {
      text,
      highlights: [span("pricing"), span("decision"), span("decided")],
      snippet: snippetText,
      snippet_start: at("The pricing"),
      snippet_highlights: [[4, 11], [12, 20]],
    });
    await searchScreen({ "POST /api/v2/search": () => ({ body: answer([hit]) }) });
    submit();
    const item = await screen.findByTestId("result");
    expect([...item.querySelectorAll("mark")].map((m) => m.textContent)).toEqual(["pricing", "decision"]);
    expect(item.querySelector(".snippet")?.textContent).toBe(`… ${snippetText} …`);
    fireEvent.click(within(item).getByRole("button", { name: "Show the whole chunk" }));
    expect([...item.querySelectorAll("mark")].map((m) => m.textContent)).toEqual(["pricing", "decision", "decided"]);
    expect(item.querySelector(".result-text")?.textContent).toBe(text);
    expect(within(item).getByText(/score 0\.990/)).toBeTruthy();
  });

  it("show no score where the API gives none", async () => {
    await searchScreen({ "POST /api/v2/search": () => ({ body: answer([result(1, { score: null })]) }) });
    submit();
    const item = await screen.findByTestId("result");
    expect(item.querySelector(".result-head .muted")?.textContent).toBe("#1");
  });

  it("explain the scores on demand, with one more search asking for explain", async () => {
    const explain = { dense: 0.61, sparse: 7.25, fused: 0.0325, rank_in_collection: 2, rerank: null };
    const { searches } = await searchScreen({
      "POST /api/v2/search": (c) => {
        const body = c.body as { explain?: boolean };
        const results = [result(1), result(2)];
        return { body: answer(body.explain ? results.map((r) => ({ ...r, explain })) : results) };
      },
    });
    submit();
    const items = await screen.findAllByTestId("result");
    expect(items[0].querySelector("dl")).toBeNull();
    fireEvent.click(within(items[1]).getByRole("button", { name: "Explain the score" }));
    await waitFor(() => expect(items[1].querySelector("dl.explain")).not.toBeNull());
    const dl = items[1].querySelector("dl.explain") as HTMLElement;
    expect([...dl.querySelectorAll("dd")].map((d) => d.textContent)).toEqual(["0.6100", "7.2500", "0.0325", "2", "—"]);
    expect(searches()).toHaveLength(2);
    expect(searches()[1]).toMatchObject({ explain: true, limit: 2, query: "pricing decision" });
    expect(searches()[1].facets).toBeUndefined();
    // The first result was not asked about: its explanation stays closed.
    expect(items[0].querySelector("dl.explain")).toBeNull();
    fireEvent.click(within(items[0]).getByRole("button", { name: "Explain the score" }));
    expect(items[0].querySelector("dl.explain")).not.toBeNull();
    expect(searches()).toHaveLength(2);
  });
});

describe("facets", () => {
  it("ask for the record columns, refine on a click, and come off as chips", async () => {
    const facets = {
      file_type: { csv: 3, md: 1 },
      source_id: { s1: 3 },
      "columns.team": { billing: 2, web: 1 },
    };
    const { searches } = await searchScreen({
      "POST /api/v2/search": (c) => {
        const filters = (c.body as { filters?: Record<string, unknown> }).filters ?? {};
        const results = filters["columns.team"] ? [result(2)] : [result(1), result(2), result(3)];
        return { body: answer(results, { facets }) };
      },
    });
    submit();
    const panel = await screen.findByRole("complementary", { name: "Refine the results" });
    expect(searches()[0].facets).toEqual(["file_type", "source_id", "columns.team"]);
    expect(searches()[0].filters).toBeUndefined();
    // A source facet reads as the source's path.
    expect(within(panel).getByRole("button", { name: "tickets.csv (3)" })).toBeTruthy();
    fireEvent.click(within(panel).getByRole("button", { name: "billing (2)" }));
    await waitFor(() => expect(screen.getAllByTestId("result")).toHaveLength(1));
    expect(searches()[1].filters).toEqual({ "columns.team": "billing" });
    expect(searches()[1].query).toBe("pricing decision");
    expect(within(panel).getByRole("button", { name: "billing (2)" }).getAttribute("aria-pressed")).toBe("true");
    fireEvent.click(within(panel).getByRole("button", { name: "web (1)" }));
    await waitFor(() => expect(searches()).toHaveLength(3));
    expect(searches()[2].filters).toEqual({ "columns.team": ["billing", "web"] });
    const chips = screen.getByRole("list", { name: "Refinements" });
    expect(within(chips).getAllByRole("listitem").map((li) => li.textContent)).toEqual(["team: billing✕", "team: web✕"]);
    fireEvent.click(within(chips).getByRole("button", { name: "Remove team: billing" }));
    await waitFor(() => expect(searches()).toHaveLength(4));
    expect(searches()[3].filters).toEqual({ "columns.team": "web" });
    fireEvent.click(screen.getByRole("button", { name: "Remove team: web" }));
    await waitFor(() => expect(screen.getAllByTestId("result")).toHaveLength(3));
    expect(searches()[4].filters).toBeUndefined();
    expect(screen.queryByRole("list", { name: "Refinements" })).toBeNull();
  });
});

describe("facets of numbers and bools", () => {
  it("show the server's order and refine with the value's text, which the server matches as typed", async () => {
    // The server names a number by its decimal and a bool "true"/"false", most frequent first.
    const facets = { "columns.year": { "2021": 2, "2019": 1 }, "columns.open": { false: 2, true: 1 } };
    const { searches } = await searchScreen({
      "POST /api/v2/search": () => ({ body: answer([result(1), result(2)], { facets }) }),
    });
    submit();
    const panel = await screen.findByRole("complementary", { name: "Refine the results" });
    const year = within(panel).getByRole("region", { name: "year" });
    expect(within(year).getAllByRole("button").map((b) => b.textContent)).toEqual(["2021 (2)", "2019 (1)"]);
    const open = within(panel).getByRole("region", { name: "open" });
    expect(within(open).getAllByRole("button").map((b) => b.textContent)).toEqual(["false (2)", "true (1)"]);
    fireEvent.click(within(year).getByRole("button", { name: "2021 (2)" }));
    await waitFor(() => expect(searches()).toHaveLength(2));
    expect(searches()[1].filters).toEqual({ "columns.year": "2021" });
    fireEvent.click(within(open).getByRole("button", { name: "true (1)" }));
    await waitFor(() => expect(searches()).toHaveLength(3));
    expect(searches()[2].filters).toEqual({ "columns.year": "2021", "columns.open": "true" });
  });
});

describe("paging", () => {
  it("appends the next page, disjoint, until there is none; a new query starts over", async () => {
    const { searches } = await searchScreen({
      "POST /api/v2/search": (c) => {
        const offset = (c.body as { offset?: number }).offset ?? 0;
        const count = offset === 0 ? 10 : 4;
        const results = Array.from({ length: count }, (_, i) => result(offset + i + 1, { rank: i + 1 }));
        return { body: answer(results, { offset, has_more: offset === 0 }) };
      },
    });
    submit();
    expect(await screen.findAllByTestId("result")).toHaveLength(10);
    fireEvent.click(screen.getByRole("button", { name: "More results" }));
    await waitFor(() => expect(screen.getAllByTestId("result")).toHaveLength(14));
    expect(searches()[1]).toMatchObject({ offset: 10, limit: 10 });
    expect(searches()[1].facets).toBeUndefined();
    const shown = screen.getAllByTestId("result").map((li) => li.dataset.document);
    expect(new Set(shown).size).toBe(14);
    expect(screen.getAllByTestId("result").map((li) => li.querySelector(".result-head .muted")?.textContent?.split(" ")[0])).toEqual(
      Array.from({ length: 14 }, (_, i) => `#${i + 1}`),
    );
    expect(screen.queryByRole("button", { name: "More results" })).toBeNull();
    submit();
    await waitFor(() => expect(searches()).toHaveLength(3));
    expect(searches()[2].offset).toBeUndefined();
    await waitFor(() => expect(screen.getAllByTestId("result")).toHaveLength(10));
  });
});

const TEXT = "First chunk about setup. Second chunk on pricing decisions.\n\nThird chunk closes.";

function detail(extra: Partial<DocumentDetail> = {}): DocumentDetail {
  return {
    id: "doc-1",
    collection_id: tickets.id,
    source_id: "s1",
    path: "/data/tickets.csv",
    file_type: "csv",
    mime: "text/csv",
    size: 2048,
    status: "indexed",
    chunk_count: 3,
    text: TEXT,
    // The second chunk repeats the first's last word (an overlap), as the chunker does.
    chunks: [
      { index: 0, start: 0, end: 24 },
      { index: 1, start: 18, end: 59 },
      { index: 2, start: 59, end: 80 },
    ],
    truncated: false,
    metadata: { columns: { team: "billing", priority: 2 }, record_id: "T-7", row: 4 },
    ...extra,
  };
}

describe("document view", () => {
  it("opens from a result at its chunk: scrolled there, marked, with a record's columns", async () => {
    const scrolled: HTMLElement[] = [];
    vi.spyOn(HTMLElement.prototype, "scrollIntoView").mockImplementation(function (this: HTMLElement) {
      scrolled.push(this);
    });
    const chunkText = TEXT.slice(18, 59);
    const hit = result(1, {
      document_id: "doc-1",
      text: chunkText,
      metadata: { chunk_index: 1 },
      highlights: [[chunkText.indexOf("pricing"), chunkText.indexOf("pricing") + 7]],
    });
    const { h } = await searchScreen({
      "POST /api/v2/search": () => ({ body: answer([hit]) }),
      [`GET /api/v2/collections/${tickets.id}/documents/doc-1`]: () => ({ body: detail() }),
    });
    submit();
    const item = await screen.findByTestId("result");
    fireEvent.click(within(item).getByRole("link", { name: "Open the document" }));
    expect(h.store.getState().route).toEqual({ name: "document", id: tickets.id, documentId: "doc-1", chunk: 1 });
    expect(await screen.findByRole("heading", { level: 1, name: "tickets.csv" })).toBeTruthy();
    await waitFor(() => expect(scrolled).toHaveLength(1));
    expect(scrolled[0].dataset.chunk).toBe("1");
    expect(scrolled[0].getAttribute("aria-current")).toBe("true");
    const blocks = [...document.querySelectorAll<HTMLElement>(".chunk")];
    expect(blocks.map((b) => b.dataset.chunk)).toEqual(["0", "1", "2"]);
    // Each character once: the overlap stays with the chunk before.
    expect(blocks.map((b) => b.textContent).join("")).toBe(TEXT);
    // The line breaks that open a chunk are kept, not shown.
    expect(blocks[2].querySelector(".chunk-gap")?.textContent).toBe("\n\n");
    expect([...scrolled[0].querySelectorAll("mark")].map((m) => m.textContent)).toEqual(["pricing"]);
    const table = screen.getByRole("table", { name: "Columns of this record" });
    expect([...table.querySelectorAll("tbody tr")].map((tr) => tr.textContent)).toEqual(["teambilling", "priority2"]);
    expect(screen.getByText("T-7")).toBeTruthy();
    const download = screen.getByRole("link", { name: "Download original" });
    expect(download.getAttribute("href")).toBe(`/api/v2/collections/${tickets.id}/documents/doc-1/content`);
    fireEvent.click(screen.getByRole("link", { name: "Back to the results" }));
    expect(h.store.getState().route).toEqual({ name: "search" });
    expect(screen.getAllByTestId("result")).toHaveLength(1);
  });

  it("downloads the original with the session's token, or says why not", async () => {
    const clicked: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this.download);
    });
    let allowed = false;
    const h = harness({
      "GET /api/v2/collections": () => ({ body: page([tickets]) }),
      "GET /api/v2/operations": () => ({ body: page([]) }),
      [`GET /api/v2/collections/${tickets.id}/documents/doc-1`]: () => ({ body: detail({ metadata: {}, chunks: [] }) }),
      [`GET /api/v2/collections/${tickets.id}/documents/doc-1/content`]: () =>
        allowed ? { body: "ticket_id,title" } : { status: 404, body: { detail: "this source keeps no original file" } },
    });
    await h.store.getState().start();
    renderWith(h.store, <App />);
    act(() => h.store.getState().navigate({ name: "document", id: tickets.id, documentId: "doc-1", chunk: null }));
    expect(await screen.findByText("No text is indexed for this document.")).toBeTruthy();
    expect(screen.queryByRole("table", { name: "Columns of this record" })).toBeNull();
    fireEvent.click(screen.getByRole("link", { name: "Download original" }));
    expect(await screen.findByText(/this source keeps no original file/)).toBeTruthy();
    allowed = true;
    fireEvent.click(screen.getByRole("link", { name: "Download original" }));
    await waitFor(() => expect(clicked).toEqual(["tickets.csv"]));
    const fetched = h.calls.filter((c) => c.path.endsWith("/content"));
    expect(fetched.map((c) => c.auth)).toEqual(["Bearer a1", "Bearer a1"]);
  });

  it("says when the document cannot be read", async () => {
    const h = harness({
      "GET /api/v2/collections": () => ({ body: page([tickets]) }),
      "GET /api/v2/operations": () => ({ body: page([]) }),
      [`GET /api/v2/collections/${tickets.id}/documents/nope`]: () => ({ status: 422, body: { detail: [{ loc: ["path", "document_id"], msg: "Input should be a valid UUID" }] } }),
    });
    await h.store.getState().start();
    renderWith(h.store, <App />);
    act(() => h.store.getState().navigate({ name: "document", id: tickets.id, documentId: "nope", chunk: 3 }));
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", "document_id: Input should be a valid UUID");
  });
});
