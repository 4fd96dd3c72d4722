import { expect, test, type Browser, type Page } from "@playwright/test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ADMIN, nav, signIn } from "./session";

/*
 * Sharing, end to end, with two people in two browser contexts (SPEC §11): the admin
 * creates a collection and an account for a colleague, shares the collection with her as
 * a viewer; she finds it under "Shared with me", opens it and sees no control her role does
 * not allow; the admin revokes, and after a reload it is gone from her view.
 *
 * Independent of the other specs' order on the one system of a run: the admin is the
 * first account when nobody has registered yet, else it signs in (flow.spec.ts uses the
 * same account); what this spec creates it deletes again.
 */

const SHOTS = join(import.meta.dirname, "screenshots");
const dataDir = process.env.SEMANTIK_E2E_DATA_DIR as string;
const folder = join(dataDir, "sources", "shared-notes");

const COLLEAGUE = { username: "bea", password: "another long passphrase" };
const NAME = "team-notes";

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function openShare(page: Page) {
  await page.getByRole("button", { name: "Share", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: `Share ${NAME}` });
  await expect(dialog.getByRole("table", { name: "People and teams with access" })).toBeVisible();
  return dialog;
}

async function newPage(browser: Browser, errors: string[]): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  return page;
}

test("a collection shared with a colleague as viewer, then revoked", async ({ browser }) => {
  test.setTimeout(300_000);
  mkdirSync(folder, { recursive: true });
  for (const [i, topic] of ["release checklist", "on-call rota", "design review"].entries()) {
    writeFileSync(join(folder, `note-${i}.md`), `# ${topic}\n\nThe team agreed on the ${topic} for the quarter.\n`);
  }
  const errors: string[] = [];
  const a = await newPage(browser, errors);
  const b = await newPage(browser, errors);

  await test.step("A, the admin, signs in and creates a collection with data", async () => {
    await signIn(a, ADMIN);
    await expect(nav(a, "Admin")).toBeVisible();
    await a.getByRole("button", { name: "Create collection", exact: true }).click();
    await a.getByRole("dialog").getByLabel("Name").fill(NAME);
    await a.getByRole("dialog").getByRole("button", { name: "Create" }).click();
    await expect(a.getByRole("heading", { level: 1, name: new RegExp(NAME) })).toBeVisible();
    await a.getByRole("button", { name: "Add data" }).click();
    await a.getByRole("dialog").getByLabel(/Server path/).fill(folder);
    await a.getByRole("dialog").getByRole("button", { name: "Add and index" }).click();
    await expect(a.getByTestId("operation-completed")).toHaveCount(1);
  });

  await test.step("A creates B's account on the admin page", async () => {
    await nav(a, "Admin").click();
    await expect(a.getByRole("heading", { level: 1, name: "Administration" })).toBeVisible();
    const users = a.getByRole("table", { name: "Users" });
    await expect(users.getByText(/ada/)).toBeVisible();
    if ((await a.getByTestId(`user-${COLLEAGUE.username}`).count()) === 0) {
      await a.getByLabel("Username").fill(COLLEAGUE.username);
      await a.getByLabel("Initial password").fill(COLLEAGUE.password);
      await a.getByRole("button", { name: "Create account" }).click();
      await expect(a.getByText(`Account ${COLLEAGUE.username} created.`)).toBeVisible();
    }
    await expect(a.getByTestId(`user-${COLLEAGUE.username}`)).toContainText("active");
    await shot(a, "20-admin-users");
  });

  await test.step("A shares the collection with B as viewer", async () => {
    await nav(a, "Collections").click();
    await a.getByRole("link", { name: NAME, exact: true }).click();
    const dialog = await openShare(a);
    await expect(dialog.getByRole("row", { name: /ada \(user\) owner/ })).toBeVisible();
    await dialog.getByLabel("Give access to").selectOption({ label: COLLEAGUE.username });
    await dialog.getByLabel("As").selectOption("viewer");
    await dialog.getByRole("button", { name: "Share", exact: true }).click();
    await expect(dialog.getByTestId(`grant-${COLLEAGUE.username}`)).toBeVisible();
    await expect(dialog.getByLabel(`Role of ${COLLEAGUE.username} (user)`)).toHaveValue("viewer");
    await shot(a, "21-share-dialog");
    await dialog.getByRole("button", { name: "Done" }).click();
  });

  await test.step("B signs in, finds it under Shared with me, and may only read it", async () => {
    await signIn(b, COLLEAGUE);
    await expect(nav(b, "Admin")).toHaveCount(0);
    const shared = b.getByRole("list", { name: "Shared with me" });
    await expect(shared.getByTestId(`card-${NAME}`)).toBeVisible();
    await expect(shared.getByTestId(`card-${NAME}`)).toContainText("viewer");
    await shot(b, "22-shared-with-me");
    await shared.getByRole("link", { name: NAME, exact: true }).click();
    await expect(b.getByRole("heading", { level: 1, name: new RegExp(NAME) })).toBeVisible();
    await expect(b.getByText(folder, { exact: true })).toBeVisible();
    await expect(b.getByRole("button", { name: "Add data" })).toHaveCount(0);
    await expect(b.getByRole("button", { name: "Share", exact: true })).toHaveCount(0);
    await expect(b.getByRole("button", { name: /Remove source/ })).toHaveCount(0);
    await b.getByRole("tab", { name: "Files" }).click();
    await expect(b.locator("tr.doc-indexed")).toHaveCount(3);
    await b.getByRole("tab", { name: "Settings" }).click();
    await expect(b.getByRole("button", { name: /Delete collection/ })).toHaveCount(0);
    await expect(b.getByRole("button", { name: /Reindex/ })).toHaveCount(0);
    await shot(b, "23-viewer-settings");
    // The server refuses too: a viewer's delete is 403.
    // B's access token lives in the page's memory only; a script of B's own gets one
    // from the refresh cookie (which rotates, and the page follows with the new one).
    const renewed = await b.request.post("/api/v1/auth/refresh");
    expect(renewed.status()).toBe(200);
    const token = ((await renewed.json()) as { access_token: string }).access_token;
    const id = b.url().split("/collections/")[1].split("/")[0];
    const refused = await b.request.delete(`/api/v2/collections/${id}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(refused.status()).toBe(403);
  });

  await test.step("A revokes; after a reload B no longer sees it", async () => {
    const dialog = await openShare(a);
    await dialog.getByRole("button", { name: `Revoke ${COLLEAGUE.username} (user)` }).click();
    await expect(dialog.getByTestId(`grant-${COLLEAGUE.username}`)).toHaveCount(0);
    await dialog.getByRole("button", { name: "Done" }).click();
    await b.goto("/");
    await expect(b.getByRole("heading", { name: "No collections yet" })).toBeVisible();
    await expect(b.getByTestId(`card-${NAME}`)).toHaveCount(0);
    await shot(b, "24-after-revoke");
  });

  await test.step("A creates an API key, shown once", async () => {
    await nav(a, "API keys").click();
    await a.getByLabel("Key name").fill("e2e report");
    await a.getByLabel(/^read:/).check();
    await a.getByRole("button", { name: "Create key" }).click();
    const key = a.getByLabel("API key");
    await expect(key).not.toHaveValue("");
    const secret = await key.inputValue();
    const listed = await a.request.get("/api/v2/collections", { headers: { Authorization: `Bearer ${secret}` } });
    expect(listed.status()).toBe(200);
    await shot(a, "25-api-key-once");
    await a.getByRole("button", { name: "I have copied it" }).click();
    await expect(a.getByLabel("API key")).toHaveCount(0);
    await a.getByRole("button", { name: "Revoke e2e report" }).click();
    await a.getByRole("button", { name: "Revoke now" }).click();
    await expect(a.getByTestId("key-e2e report")).toHaveCount(0);
    const after = await a.request.get("/api/v2/collections", { headers: { Authorization: `Bearer ${secret}` } });
    expect(after.status()).toBe(401);
  });

  await test.step("A deletes the collection again (other specs expect none)", async () => {
    await nav(a, "Collections").click();
    await a.getByRole("link", { name: NAME, exact: true }).click();
    await a.getByRole("tab", { name: "Settings" }).click();
    await a.getByRole("button", { name: "Delete collection…" }).click();
    await a.getByRole("dialog").getByLabel(/to confirm/).fill(NAME);
    await a.getByRole("dialog").getByRole("button", { name: "Delete collection" }).click();
    await expect(a.getByRole("heading", { level: 1, name: "Collections" })).toBeVisible();
    await expect(a.getByTestId(`card-${NAME}`)).toHaveCount(0);
  });

  expect(errors).toEqual([]);
});
