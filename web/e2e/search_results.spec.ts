import { expect, test, type Page } from "@playwright/test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nav, signIn } from "./session";

/*
 * Search results a person can act on (issue 26), against `semantik run`: the snippet's
 * highlights come from the server, facets refine the query and come off as chips, "More
 * results" appends the next page of other documents, a result opens the document view
 * at the chunk it matched (and a record shows its columns), the original downloads, and
 * a reload on each client route answers the app.
 *
 * Independent of the other specs' order on the one system of a run: the admin is the
 * first account when nobody has registered yet, else it signs in (flow.spec.ts uses the
 * same account); what this spec creates it deletes again.
 */

const SHOTS = join(import.meta.dirname, "screenshots");
const dataDir = process.env.SEMANTIK_E2E_DATA_DIR as string;
const folder = join(dataDir, "sources", "lighthouse");
const ships = join(dataDir, "sources", "ships.jsonl");
const NAME = "lighthouse";
const MARKDOWN = 18;
const TEXTS = 6;

const FILLER = [
  "The island has a small harbour, a chapel and a store for rope and paint.",
  "Visitors come in summer by the ferry and walk the cliff path to the old wall.",
  "Gulls nest on the rocks below the tower and the wind turns every afternoon.",
  "Supplies arrive once a month; the logbook lists flour, oil, candles and tea.",
];

function writeSources(): void {
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < MARKDOWN + TEXTS; i++) {
    const ext = i < MARKDOWN ? "md" : "txt";
    const body = `Lighthouse log ${i}. The lighthouse keeper lit the lamp at dusk on day ${i} and wrote the weather in the log. ${FILLER[i % FILLER.length]}`;
    writeFileSync(join(folder, `log-${String(i).padStart(2, "0")}.${ext}`), ext === "md" ? `# Log ${i}\n\n${body}\n` : `${body}\n`);
  }
  // A long manual: the words searched for stand in a late chunk only.
  const paragraphs = Array.from({ length: 40 }, (_, k) => `Section ${k}. ${FILLER[k % FILLER.length]} ${FILLER[(k + 1) % FILLER.length]} ${FILLER[(k + 2) % FILLER.length]}`);
  paragraphs[33] = "Section 33. The zephyr calibration of the foghorn is done each spring with the brass tuning fork kept in the chart room.";
  writeFileSync(join(folder, "manual.md"), `# Keeper's manual\n\n${paragraphs.join("\n\n")}\n`);
  // Typed columns: crew a number, in_service a bool (their facets name them as text).
  const rows = [
    { code: "S-1", name: "Aurora", notes: "Supply ship bringing lamp oil to the lighthouse keeper", fleet: "north", crew: 12, in_service: true },
    { code: "S-2", name: "Boreas", notes: "Supply ship bringing flour and tea to the lighthouse", fleet: "north", crew: 12, in_service: false },
    { code: "S-3", name: "Calypso", notes: "Survey vessel charting the reef near the lighthouse", fleet: "south", crew: 7, in_service: true },
  ];
  writeFileSync(ships, rows.map((row) => JSON.stringify(row)).join("\n"));
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function search(page: Page, query: string): Promise<void> {
  await page.getByLabel("Query").fill(query);
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await expect(page.getByRole("heading", { name: /results in/ })).toBeVisible();
  await expect(page.getByRole("button", { name: "Searching…" })).toHaveCount(0);
}

const results = (page: Page) => page.getByTestId("result");

async function documentsShown(page: Page): Promise<string[]> {
  return results(page).evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.document ?? ""));
}

test("facets refine, pages append, a result opens its document at the chunk", async ({ page }) => {
  test.setTimeout(400_000);
  writeSources();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));

  await test.step("a collection of logs, a manual and a table", async () => {
    await signIn(page);
    await page.getByRole("button", { name: "Create collection", exact: true }).click();
    await page.getByRole("dialog").getByLabel("Name").fill(NAME);
    await page.getByRole("dialog").getByRole("button", { name: "Create" }).click();
    await expect(page.getByRole("heading", { level: 1, name: new RegExp(NAME) })).toBeVisible();
    await page.getByRole("button", { name: "Add data" }).click();
    await page.getByRole("dialog").getByLabel(/Server path/).fill(folder);
    await page.getByRole("dialog").getByRole("button", { name: "Add and index" }).click();
    await expect(page.getByTestId("operation-completed")).toHaveCount(1);
    await page.getByRole("button", { name: "Add data" }).click();
    const dialog = page.getByRole("dialog", { name: `Add data to ${NAME}` });
    await dialog.getByLabel(/Server path/).fill(ships);
    await dialog.getByRole("button", { name: "Read its columns" }).click();
    await expect(dialog.getByText("Columns found (6)")).toBeVisible();
    await dialog.getByLabel("Embed name").check();
    await dialog.getByLabel("Embed notes").check();
    await dialog.getByLabel("Keep fleet as context").check();
    await dialog.getByLabel("Keep crew as context").check();
    await dialog.getByLabel("Keep in_service as context").check();
    await dialog.getByLabel("Id column").selectOption("code");
    await dialog.getByRole("button", { name: "Add and index" }).click();
    await expect(page.getByTestId("operation-completed")).toHaveCount(2);
  });

  await test.step("the server's highlights, and facets that refine the query", async () => {
    await nav(page, "Search").click();
    await page.getByRole("checkbox", { name: NAME }).check();
    await search(page, "lighthouse keeper lamp");
    await expect(results(page)).toHaveCount(10);
    const marked = await page.locator(".results mark").allTextContents();
    expect(marked.map((m) => m.toLowerCase())).toEqual(expect.arrayContaining(["lighthouse", "keeper", "lamp"]));
    const facets = page.getByRole("complementary", { name: "Refine the results" });
    // Counted in documents: the logs and the manual, the text files, the table's rows.
    const fileType = facets.getByRole("region", { name: "File type" });
    await expect(fileType.getByRole("button")).toHaveCount(3);
    await expect(fileType.getByRole("button", { name: `md (${MARKDOWN + 1})`, exact: true })).toBeVisible();
    await expect(fileType.getByRole("button", { name: `txt (${TEXTS})`, exact: true })).toBeVisible();
    await expect(fileType.getByRole("button", { name: "jsonl (3)", exact: true })).toBeVisible();
    await expect(facets.getByRole("region", { name: "Source" }).getByRole("button")).toHaveCount(2);
    await expect(facets.getByRole("region", { name: "Source" })).toContainText(ships);
    await shot(page, "40-search-facets");

    await fileType.getByRole("button", { name: `txt (${TEXTS})`, exact: true }).click();
    await expect(page.getByRole("list", { name: "Refinements" })).toHaveText(/File type: txt/);
    await expect(results(page)).toHaveCount(TEXTS);
    const paths = await results(page).locator(".result-head a").allTextContents();
    expect(paths.every((p) => p.endsWith(".txt"))).toBe(true);
    await expect(page.getByRole("button", { name: "More results" })).toHaveCount(0);

    // The facets count the refined results: only text files are left.
    await expect(fileType.getByRole("button")).toHaveCount(1);
    await expect(fileType.getByRole("button", { name: `txt (${TEXTS})`, exact: true })).toHaveAttribute("aria-pressed", "true");
    await page.getByRole("button", { name: "Remove File type: txt" }).click();
    await expect(page.getByRole("list", { name: "Refinements" })).toHaveCount(0);
    await expect(results(page)).toHaveCount(10);

    await facets.getByRole("region", { name: "fleet" }).getByRole("button", { name: "north (2)", exact: true }).click();
    await expect(page.getByRole("list", { name: "Refinements" })).toHaveText(/fleet: north/);
    await expect(results(page)).toHaveCount(2);
    const rows = await results(page).locator(".result-head a").allTextContents();
    // A row's path is its file's, with its record id.
    expect(rows.sort()).toEqual([`${ships}#S-1`, `${ships}#S-2`]);
    await expect(fileType.getByRole("button")).toHaveText(["jsonl (2)"]);
    await shot(page, "41-search-refined");
    await page.getByRole("button", { name: "Remove fleet: north" }).click();
    await expect(page.getByRole("list", { name: "Refinements" })).toHaveCount(0);
    await expect(results(page)).toHaveCount(10);

    // A number's facet and a bool's refine as the typed values they name (Qdrant Edge).
    await facets.getByRole("region", { name: "crew" }).getByRole("button", { name: "12 (2)", exact: true }).click();
    await expect(results(page)).toHaveCount(2);
    expect((await results(page).locator(".result-head a").allTextContents()).sort()).toEqual([`${ships}#S-1`, `${ships}#S-2`]);
    await page.getByRole("button", { name: "Remove crew: 12" }).click();
    await expect(results(page)).toHaveCount(10);
    await facets.getByRole("region", { name: "in_service" }).getByRole("button", { name: "true (2)", exact: true }).click();
    await expect(results(page)).toHaveCount(2);
    expect((await results(page).locator(".result-head a").allTextContents()).sort()).toEqual([`${ships}#S-1`, `${ships}#S-3`]);
    await page.getByRole("button", { name: "Remove in_service: true" }).click();
    await expect(results(page)).toHaveCount(10);
  });

  await test.step("More results appends the next page, other documents each time", async () => {
    const seen = await documentsShown(page);
    expect(new Set(seen).size).toBe(10);
    let pages = 1;
    while ((await page.getByRole("button", { name: "More results" }).count()) > 0) {
      await page.getByRole("button", { name: "More results" }).click();
      pages++;
      await expect(page.getByRole("button", { name: "Loading more…" })).toHaveCount(0);
      const now = await documentsShown(page);
      expect(now.slice(0, seen.length)).toEqual(seen);
      expect(now.length).toBeGreaterThan(seen.length);
      expect(new Set(now).size).toBe(now.length);
      seen.splice(0, seen.length, ...now);
    }
    expect(pages).toBeGreaterThanOrEqual(3);
    // Every log, the manual and the rows: nothing lost between the pages.
    expect(seen.length).toBe(MARKDOWN + TEXTS + 1 + 3);
    await expect(page.getByRole("heading", { name: new RegExp(`^${seen.length} results in`) })).toBeVisible();
  });

  await test.step("explain the score", async () => {
    const first = results(page).first();
    await first.getByRole("button", { name: "Explain the score" }).click();
    const facts = first.getByRole("definition");
    await expect(facts).toHaveCount(5);
    await expect(first.locator("dl.explain dt")).toHaveText(["Dense (meaning)", "Sparse (BM25)", "Fused", "Rank in its collection", "Rerank"]);
    await expect(facts.nth(3)).toHaveText(/^\d+$/);
  });

  let documentUrl = "";
  await test.step("a result opens the document at the chunk it matched", async () => {
    await search(page, "zephyr calibration foghorn");
    const top = results(page).first();
    await expect(top.locator(".result-head a")).toHaveText(join(folder, "manual.md"));
    await expect(top.locator(".snippet mark").first()).toBeVisible();
    await top.getByRole("link", { name: "Open the document" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "manual.md" })).toBeVisible();
    documentUrl = page.url();
    const chunk = Number(new URL(documentUrl).searchParams.get("chunk"));
    expect(chunk).toBeGreaterThan(0);
    const match = page.locator(".chunk-match");
    await expect(match).toHaveCount(1);
    await expect(match).toHaveAttribute("data-chunk", String(chunk));
    await expect(match).toBeInViewport();
    await expect(match).toContainText("zephyr calibration");
    expect((await match.locator("mark").allTextContents()).map((m) => m.toLowerCase())).toEqual(expect.arrayContaining(["zephyr", "calibration", "foghorn"]));
    expect(await page.locator(".chunk").count()).toBeGreaterThan(chunk);
    await shot(page, "42-document-at-chunk");

    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download original" }).click()]);
    expect(download.suggestedFilename()).toBe("manual.md");
    const saved = await download.path();
    expect(readFileSync(saved, "utf8")).toBe(readFileSync(join(folder, "manual.md"), "utf8"));

    // A reload answers the app at the same place.
    await page.reload();
    await expect(page.getByRole("heading", { level: 1, name: "manual.md" })).toBeVisible();
    await expect(page.locator(".chunk-match")).toBeInViewport();
  });

  await test.step("a record shows its columns", async () => {
    await nav(page, "Search").click();
    await search(page, "survey vessel charting the reef");
    const row = results(page).filter({ hasText: "Calypso" }).first();
    await row.getByRole("link", { name: "Open the document" }).click();
    const table = page.getByRole("table", { name: "Columns of this record" });
    await expect(table).toBeVisible();
    await expect(table.getByRole("row", { name: /fleet south/ })).toBeVisible();
    await expect(table.getByRole("row", { name: /crew 7/ })).toBeVisible();
    await expect(page.getByText("S-3", { exact: true })).toBeVisible();
    await shot(page, "43-document-record");
  });

  await test.step("a reload on each client route answers the app", async () => {
    for (const [path, heading] of [
      ["/webhooks", "Webhooks"],
      ["/api-keys", "API keys"],
      ["/admin", "Administration"],
    ]) {
      const answer = await page.request.get(path);
      expect(answer.headers()["content-type"]).toContain("text/html");
      await page.goto(path);
      await expect(page.getByRole("heading", { level: 1, name: heading })).toBeVisible();
    }
  });

  await test.step("the collection is deleted again (other specs expect none)", async () => {
    await nav(page, "Collections").click();
    await page.getByRole("link", { name: NAME, exact: true }).click();
    await page.getByRole("tab", { name: "Settings" }).click();
    await page.getByRole("button", { name: "Delete collection…" }).click();
    await page.getByRole("dialog").getByLabel(/to confirm/).fill(NAME);
    await page.getByRole("dialog").getByRole("button", { name: "Delete collection" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Collections" })).toBeVisible();
    await expect(page.getByTestId(`card-${NAME}`)).toHaveCount(0);
  });

  expect(errors).toEqual([]);
});
