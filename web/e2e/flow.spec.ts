import { expect, test, type Page } from "@playwright/test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/*
 * A user's whole way through the UI, against `semantik run` (playwright.config.ts):
 * sign up, create a collection, add a folder and watch its operation finish live, upload
 * a table choosing its columns from the preview, search both collections, reindex with
 * the typed name, delete. Every screen is saved to e2e/screenshots/ for a person to see.
 */

const SHOTS = join(import.meta.dirname, "screenshots");
const dataDir = process.env.SEMANTIK_E2E_DATA_DIR as string;
const sources = join(dataDir, "sources");
const handbook = join(sources, "handbook");

const TOPICS = [
  ["pricing", "The pricing decision for the enterprise plan was taken after comparing three offers; we keep the price per seat and add a yearly discount."],
  ["vacation", "Vacation requests go to your lead two weeks ahead; the vacation policy grants twenty-five days a year."],
  ["onboarding", "Onboarding a new engineer starts with the handbook, a buddy and a first small change shipped in the first week."],
  ["incidents", "During an incident the on-call engineer opens a channel, names a lead and writes the timeline as it happens."],
  ["security", "Laptops are encrypted, passwords live in the password manager and every service account has an owner."],
];

function writeHandbook(): void {
  mkdirSync(handbook, { recursive: true });
  for (let i = 0; i < 40; i++) {
    const [topic, text] = TOPICS[i % TOPICS.length];
    const body = Array.from({ length: 12 }, (_, k) => `${text} Note ${i}.${k} on ${topic}.`).join("\n\n");
    writeFileSync(join(handbook, `${topic}-${i}.md`), `# ${topic} ${i}\n\n${body}\n`);
  }
  // Not a PDF at all: listed on the Files tab as failed, with the reason.
  writeFileSync(join(handbook, "broken.pdf"), "%PDF-1.4\nthis is not really a pdf\n");
  writeFileSync(join(sources, "more-tickets.csv"), MORE_TICKETS);
}

const TICKETS = [
  "ticket_id,title,body,team",
  '1,Pricing page wrong,"The pricing page shows the old price per seat after the decision",web',
  '2,VPN drops,"The VPN drops every hour on the office network",it',
  '3,Discount missing,"The yearly discount from the pricing decision is not applied to invoices",billing',
  '4,Laptop encryption,"A new laptop arrived without disk encryption enabled",it',
].join("\n");

const MORE_TICKETS = [
  "key,subject,details",
  'T-7,Invoice discount,"The pricing decision discount shows twice on the invoice"',
  'T-8,Printer,"The printer on floor two jams"',
  'T-9,Seat price,"A customer asks why the price per seat changed"',
].join("\n");

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Every visible form field has an accessible name (a label or aria-label). */
async function expectLabelled(page: Page): Promise<void> {
  const unlabelled = await page.locator("input, select, textarea").evaluateAll((fields) =>
    fields
      .filter((f) => (f as HTMLElement).offsetParent !== null)
      .filter((f) => !(f as HTMLInputElement).labels?.length && !f.getAttribute("aria-label"))
      .map((f) => f.outerHTML),
  );
  expect(unlabelled).toEqual([]);
}

function nav(page: Page, name: string | RegExp) {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name });
}

/**
 * WCAG AA: text shown (labels, muted text, badges, buttons, links, marks) against the
 * background it sits on has a contrast of 4.5:1 or more (3:1 for large text).
 */
async function expectContrast(page: Page): Promise<void> {
  const failures = await page.evaluate(() => {
    const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = ([r, g, b]: number[]) => {
      const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el: Element | null): number[] => {
      for (; el; el = el.parentElement) {
        const c = rgb(getComputedStyle(el).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const found: string[] = [];
    const textual = document.querySelectorAll("h1, h2, h3, p, label, legend, dt, dd, th, td, a, button, span, mark, li");
    for (const el of textual) {
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent?.trim());
      const box = el.getBoundingClientRect();
      if (!own || box.width === 0 || (el as HTMLButtonElement).disabled) continue;
      const style = getComputedStyle(el);
      const [l1, l2] = [luminance(rgb(style.color)), luminance(background(el))].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) found.push(`${el.tagName} "${el.textContent?.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
    }
    return found;
  });
  expect(failures).toEqual([]);
}

async function openTab(page: Page, name: string): Promise<void> {
  await page.getByRole("tab", { name }).click();
  await expect(page.getByRole("tab", { name })).toHaveAttribute("aria-selected", "true");
}

async function openCollection(page: Page, name: string): Promise<void> {
  await nav(page, "Collections").click();
  await page.getByRole("link", { name, exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: new RegExp(name) })).toBeVisible();
}

test("a user's way through the web UI", async ({ page }) => {
  test.setTimeout(600_000);
  writeHandbook();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // Whatever the gateway's Content-Security-Policy blocks (a script, a style, the
  // WebSocket) is an error of this flow.
  await page.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (e) =>
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`),
    ),
  );
  page.on("console", (m) => {
    if (m.text().startsWith("CSP violation")) errors.push(m.text());
  });

  await test.step("sign up and sign in", async () => {
    await page.goto("/");
    await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
    await expectLabelled(page);
    await shot(page, "01-login");
    // The first account of the system; another spec that ran first may have made it.
    const registration = await page.request.get("/api/v1/auth/registration");
    const first = !registration.ok() || ((await registration.json()) as { first_account: boolean }).first_account;
    if (first) await page.getByRole("button", { name: /Create an account/ }).click();
    await page.getByLabel("Username").fill("ada");
    await page.getByLabel("Password").fill("correct horse battery staple");
    await page.getByRole("button", { name: first ? "Create account and sign in" : "Sign in" }).click();
    await expect(page.getByRole("heading", { name: "No collections yet" })).toBeVisible();
    await expect(page.getByRole("status", { name: "Live updates: Live" })).toBeVisible();
    await expectContrast(page);
    await shot(page, "02-dashboard-empty");
  });

  await test.step("the refresh token is an httpOnly cookie, never in storage", async () => {
    const cookies = await page.context().cookies();
    const refresh = cookies.find((c) => c.name === "semantik_refresh");
    expect(refresh).toMatchObject({ httpOnly: true, sameSite: "Strict", path: "/api/v1/auth" });
    expect(await page.evaluate(() => document.cookie)).not.toContain("semantik_refresh");
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
    expect(stored).not.toContain(refresh?.value ?? "no cookie");
    expect(stored).not.toMatch(/access_token|refresh_token|eyJ/);
    const headers = (await page.request.get("/")).headers();
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
  });

  await test.step("the page runs under its CSP: an injected inline script does not run", async () => {
    const ran = await page.evaluate(() => {
      const script = document.createElement("script");
      script.textContent = "document.body.dataset.injected = 'yes'";
      document.head.appendChild(script);
      return document.body.dataset.injected ?? null;
    });
    expect(ran).toBeNull();
    // The detector above saw it (and nothing else so far): take it back out.
    await expect.poll(() => errors.filter((e) => e.includes("script-src")).length).toBe(1);
    errors.splice(0, errors.length, ...errors.filter((e) => !e.includes("script-src")));
  });

  await test.step("a page framed by another origin is refused", async () => {
    const framer = await page.context().newPage();
    const refusals: string[] = [];
    framer.on("console", (m) => refusals.push(m.text()));
    await framer.setContent(`<iframe src="${page.url()}"></iframe>`);
    await expect.poll(() => refusals.some((t) => /frame-ancestors|X-Frame-Options/.test(t))).toBe(true);
    const framed = framer.frames()[1];
    expect(framed ? await framed.locator("#root").count() : 0).toBe(0);
    await framer.close();
  });

  await test.step("keyboard: the create dialog opens and closes without a mouse", async () => {
    await page.locator("body").click({ position: { x: 5, y: 300 } });
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press("Tab");
      const focused = await page.evaluate(() => document.activeElement?.textContent ?? "");
      if (focused === "Create collection") break;
    }
    await expect(page.getByRole("button", { name: "Create collection", exact: true })).toBeFocused();
    await page.keyboard.press("Enter");
    await expect(page.getByRole("dialog", { name: "Create a collection" })).toBeVisible();
    await expect(page.getByLabel("Name")).toBeFocused();
    await page.keyboard.press("Escape");
    await expect(page.getByRole("dialog")).toHaveCount(0);
  });

  await test.step("create a collection", async () => {
    await page.getByRole("button", { name: "Create your first collection" }).click();
    const dialog = page.getByRole("dialog", { name: "Create a collection" });
    await dialog.getByLabel("Name").fill("handbook");
    await dialog.getByLabel(/Description/).fill("How we work");
    await dialog.getByText("Advanced settings").click();
    await expectLabelled(page);
    await shot(page, "03-create-dialog");
    await dialog.getByRole("button", { name: "Create" }).click();
    await expect(page.getByRole("heading", { level: 1, name: /handbook/ })).toBeVisible();
    await expect(page.getByText("No data yet")).toBeVisible();
  });

  await test.step("add a folder and watch its operation finish live", async () => {
    await page.getByRole("button", { name: "Add data" }).click();
    const dialog = page.getByRole("dialog", { name: "Add data to handbook" });
    await dialog.getByLabel(/Server path/).fill(handbook);
    await expectLabelled(page);
    await shot(page, "04-add-data-folder");
    await dialog.getByRole("button", { name: "Add and index" }).click();
    await expect(page.getByRole("tab", { name: "Operations" })).toHaveAttribute("aria-selected", "true");
    await expect(page.getByRole("progressbar").first()).toBeVisible();
    await shot(page, "05-live-progress");
    // No reload from here on: the end arrives over the WebSocket.
    await expect(page.getByTestId("operation-completed")).toHaveCount(1);
    await expect(page.getByRole("heading", { level: 1, name: /handbook/ }).getByText("ready")).toBeVisible();
    await expect(page.getByText("1 file could not be indexed")).toBeVisible();
    await shot(page, "06-details-operations");
  });

  await test.step("details: overview, files with failure reasons, settings", async () => {
    await openTab(page, "Overview");
    await expect(page.getByText(handbook, { exact: true })).toBeVisible();
    await expect(page.locator(".stats dd").first()).toHaveText("40");
    await shot(page, "07-details-overview");
    await openTab(page, "Files");
    const failed = page.locator("tr.doc-failed");
    await expect(failed).toHaveCount(1);
    await expect(failed).toContainText("broken.pdf");
    await expect(failed.locator("td").last()).not.toBeEmpty();
    await expect(page.locator("tr.doc-indexed")).toHaveCount(40);
    await expectContrast(page);
    await shot(page, "08-details-files");
    await openTab(page, "Settings");
    await expectLabelled(page);
    await shot(page, "09-details-settings");
  });

  await test.step("upload a table, its columns chosen from the preview", async () => {
    await nav(page, "Collections").click();
    await page.getByRole("button", { name: "Create collection", exact: true }).click();
    await page.getByRole("dialog").getByLabel("Name").fill("tickets");
    await page.getByRole("dialog").getByRole("button", { name: "Create" }).click();
    await expect(page.getByRole("heading", { level: 1, name: /tickets/ })).toBeVisible();
    await page.getByRole("button", { name: "Add data" }).click();
    const dialog = page.getByRole("dialog", { name: "Add data to tickets" });
    await dialog.getByLabel("Upload files").check();
    await dialog.getByLabel(/^File/).setInputFiles({ name: "tickets.csv", mimeType: "text/csv", buffer: Buffer.from(TICKETS) });
    await expect(dialog.getByText("Columns found (4)")).toBeVisible();
    await dialog.getByLabel("Embed title").check();
    await dialog.getByLabel("Embed body").check();
    await dialog.getByLabel("Keep team as context").check();
    await dialog.getByLabel("Id column").selectOption("ticket_id");
    await expectLabelled(page);
    await shot(page, "10-add-data-upload-columns");
    await dialog.getByRole("button", { name: "Add and index" }).click();
    await expect(page.getByTestId("operation-completed")).toHaveCount(1);
  });

  await test.step("add a table on the server, its columns read by the gateway", async () => {
    await page.getByRole("button", { name: "Add data" }).click();
    const dialog = page.getByRole("dialog", { name: "Add data to tickets" });
    await dialog.getByLabel(/Server path/).fill(join(sources, "more-tickets.csv"));
    await dialog.getByRole("button", { name: "Read its columns" }).click();
    await expect(dialog.getByText("Columns found (3)")).toBeVisible();
    await dialog.getByLabel("Embed subject").check();
    await dialog.getByLabel("Embed details").check();
    await dialog.getByLabel("Id column").selectOption("key");
    await shot(page, "10b-add-data-server-table-columns");
    await dialog.getByRole("button", { name: "Add and index" }).click();
    await expect(page.getByTestId("operation-completed")).toHaveCount(2);
    await openTab(page, "Overview");
    await expect(page.locator(".stats dd").first()).toHaveText("7");
    await expect(page.getByText("embeds title, body")).toBeVisible();
    await expect(page.getByText("embeds subject, details")).toBeVisible();
  });

  await test.step("dashboard with cards, filtered", async () => {
    await nav(page, "Collections").click();
    await expect(page.getByTestId("card-handbook")).toContainText("ready");
    await expect(page.getByTestId("card-handbook")).toContainText("all-MiniLM-L6-v2");
    await expect(page.getByTestId("card-tickets")).toBeVisible();
    await expectContrast(page);
    await shot(page, "11-dashboard-cards");
    await page.getByLabel("Find").fill("how we");
    await expect(page.getByRole("list", { name: "Collections" }).getByRole("listitem")).toHaveCount(1);
    await page.getByLabel("Find").fill("");
  });

  await test.step("search across two collections", async () => {
    await nav(page, "Search").click();
    await page.getByRole("checkbox", { name: "handbook" }).check();
    await page.getByRole("checkbox", { name: "tickets" }).check();
    await page.getByLabel("Query").fill("pricing decision discount");
    await page.getByLabel("Rerank the best results").check();
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await expect(page.getByRole("region", { name: "Results from handbook" })).toBeVisible();
    await expect(page.getByRole("region", { name: "Results from tickets" })).toBeVisible();
    await expect(page.locator(".results mark").first()).toBeVisible();
    const marked = await page.locator(".results mark").allTextContents();
    expect(marked.map((m) => m.toLowerCase())).toContain("pricing");
    await expectContrast(page);
    await shot(page, "12-search-results");
  });

  await test.step("search choices survive a reload", async () => {
    await page.getByLabel("Mode").selectOption("sparse");
    await page.reload();
    await expect(page.getByLabel("Query")).toHaveValue("pricing decision discount");
    await expect(page.getByRole("checkbox", { name: "handbook" })).toBeChecked();
    await expect(page.getByRole("checkbox", { name: "tickets" })).toBeChecked();
    await expect(page.getByLabel("Mode")).toHaveValue("sparse");
    await expect(page.getByLabel("Rerank the best results")).toBeChecked();
  });

  await test.step("reindex with the typed name, followed live", async () => {
    await openCollection(page, "handbook");
    await openTab(page, "Settings");
    const start = page.getByRole("button", { name: "Reindex with these settings…" });
    await expect(start).toBeDisabled();
    await page.getByLabel("Chunk size (tokens)").fill("128");
    await start.click();
    const dialog = page.getByRole("dialog", { name: "Reindex handbook" });
    const confirm = dialog.getByRole("button", { name: "Reindex" });
    await dialog.getByLabel(/to confirm/).fill("handboo");
    await expect(confirm).toBeDisabled();
    await dialog.getByLabel(/to confirm/).fill("handbook");
    await shot(page, "13-reindex-confirm");
    await confirm.click();
    await expect(page.getByRole("tab", { name: "Operations" })).toHaveAttribute("aria-selected", "true");
    await nav(page, /Active operations/).click();
    await shot(page, "14-active-operations");
    await openCollection(page, "handbook");
    await openTab(page, "Operations");
    // The gateway dies mid-reindex; its supervisor starts it again. The UI reconnects and
    // resumes from the last event it saw, so the end still arrives, without a reload.
    const gateway = Number(readFileSync(join(dataDir, "run", "gateway.pid"), "utf8"));
    process.kill(gateway, "SIGKILL");
    await expect(page.getByRole("status", { name: "Live updates: Reconnecting…" })).toBeVisible();
    await expect(page.getByRole("status", { name: "Live updates: Live" })).toBeVisible();
    await expect(page.getByTestId("operation-completed")).toHaveCount(2);
    await openTab(page, "Overview");
    await expect(page.getByText(/^128 tokens, \d+ overlap$/)).toBeVisible();
  });

  await test.step("narrow screen", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await nav(page, "Collections").click();
    await expect(page.getByTestId("card-handbook")).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(page, "15-dashboard-narrow");
    await openCollection(page, "handbook");
    await shot(page, "16-details-narrow");
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await test.step("delete with the typed name", async () => {
    await openCollection(page, "tickets");
    await openTab(page, "Settings");
    await page.getByRole("button", { name: "Delete collection…" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete tickets" });
    await expect(dialog.getByRole("button", { name: "Delete collection" })).toBeDisabled();
    await dialog.getByLabel(/to confirm/).fill("tickets");
    await shot(page, "17-delete-confirm");
    await dialog.getByRole("button", { name: "Delete collection" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Collections" })).toBeVisible();
    await expect(page.getByTestId("card-tickets")).toHaveCount(0);
    await page.reload();
    await expect(page.getByTestId("card-handbook")).toBeVisible();
    await expect(page.getByTestId("card-tickets")).toHaveCount(0);
  });

  await test.step("sign out ends the session: the cookie is gone, a reload asks to sign in", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === "semantik_refresh")).toBeUndefined();
    await page.reload();
    await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  });

  expect(errors).toEqual([]);
});
