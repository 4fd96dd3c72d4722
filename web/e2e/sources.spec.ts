import { expect, test, type Page } from "@playwright/test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { signIn } from "./session";

/*
 * Sources that stay fresh (issue 23), against `semantik run`: a folder is added, watched
 * from the Sources tab, and files written, changed and deleted on disk show in the Files
 * tab without anyone re-scanning and without a reload (the page is never loaded again).
 * Then the source is removed once its path is typed.
 *
 * Independent of the other specs' order: the admin is the first account when nobody has
 * registered yet, else it signs in; what this spec creates it deletes again.
 */

const SHOTS = join(import.meta.dirname, "screenshots");
const dataDir = process.env.SEMANTIK_E2E_DATA_DIR as string;
const folder = join(dataDir, "sources", "garden");
const NAME = "garden";

const NOTES: Record<string, string> = {
  "roses.md": "# Roses\n\nThe roses by the south wall are pruned in March and fed in May.\n",
  "apples.md": "# Apples\n\nThe apple trees are picked in September; the cellar keeps them until spring.\n",
  "compost.md": "# Compost\n\nThe compost heap is turned every two weeks and covered before frost.\n",
};

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function tab(page: Page, name: string): Promise<void> {
  await page.getByRole("tab", { name }).click();
  await expect(page.getByRole("tab", { name })).toHaveAttribute("aria-selected", "true");
}

const fileRow = (page: Page, name: string) => page.getByRole("row").filter({ hasText: join(folder, name) });

test("a watched folder: files written, changed and deleted on disk show without a reload", async ({ page }) => {
  test.setTimeout(300_000);
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  for (const [name, text] of Object.entries(NOTES)) writeFileSync(join(folder, name), text);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  let loads = 0;
  page.on("load", () => loads++);

  await test.step("a collection of a folder", async () => {
    await signIn(page);
    await page.getByRole("button", { name: "Create collection", exact: true }).click();
    await page.getByRole("dialog").getByLabel("Name").fill(NAME);
    await page.getByRole("dialog").getByRole("button", { name: "Create" }).click();
    await expect(page.getByRole("heading", { level: 1, name: new RegExp(NAME) })).toBeVisible();
    await page.getByRole("button", { name: "Add data" }).click();
    await page.getByRole("dialog").getByLabel(/Server path/).fill(folder);
    await page.getByRole("dialog").getByRole("button", { name: "Add and index" }).click();
    await expect(page.getByTestId("operation-completed")).toHaveCount(1);
  });

  const card = page.getByRole("listitem", { name: `Source ${folder}` });
  await test.step("the Sources tab: kind, documents, sync off; then watched", async () => {
    await tab(page, "Sources");
    await expect(card.getByText("folder", { exact: true })).toBeVisible();
    await expect(card.getByRole("definition").filter({ hasText: /^3$/ })).toHaveCount(1);
    await expect(card.getByText("sync off")).toBeVisible();
    await expect(card.getByTestId("last-sync")).toHaveText("never");
    // The box follows the server's answer to the PATCH, not the click.
    const watch = card.getByRole("checkbox", { name: "Watch for changes" });
    await watch.click();
    await expect(watch).toBeChecked();
    await expect(card.getByText("watching", { exact: true })).toBeVisible();
    await expect(card.getByText("sync active")).toBeVisible();
    await shot(page, "sources-01-watched");
  });

  // Loads counted from here: every change below must reach the page by itself.
  loads = 0;
  await test.step("a new file shows in the Files tab", async () => {
    await tab(page, "Files");
    await expect(fileRow(page, "roses.md")).toHaveCount(1);
    writeFileSync(join(folder, "pears.md"), "# Pears\n\nThe pear tree by the gate gives hard winter pears, stored in straw.\n");
    await expect(fileRow(page, "pears.md")).toHaveCount(1);
    await expect(fileRow(page, "pears.md").getByText("indexed")).toBeVisible();
  });

  await test.step("a changed file is indexed again with its new size, a deleted one leaves", async () => {
    const compost = "# Compost\n\nThe compost heap now holds a colony of tiger worms from the allotment, fed on peelings.\n";
    writeFileSync(join(folder, "compost.md"), compost);
    rmSync(join(folder, "apples.md"));
    await expect(fileRow(page, "apples.md")).toHaveCount(0);
    // The changed file indexed again: the Files tab shows its new size.
    await expect(fileRow(page, "compost.md").getByRole("cell", { name: `${Buffer.byteLength(compost)} B` })).toHaveCount(1);
    await expect(fileRow(page, "compost.md").getByText("indexed")).toBeVisible();
    await tab(page, "Sources");
    await expect(card.getByTestId("last-sync")).not.toHaveText("never");
    await shot(page, "sources-02-synced");
    expect(loads).toBe(0);
  });

  await test.step("removed once its path is typed, then the collection deleted", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Collections" }).click();
    await page.getByRole("link", { name: NAME, exact: true }).first().click();
    await tab(page, "Sources");
    await card.getByRole("button", { name: `Remove source ${folder}…` }).click();
    const dialog = page.getByRole("dialog", { name: "Remove a source" });
    const remove = dialog.getByRole("button", { name: "Remove source and its documents" });
    await expect(remove).toBeDisabled();
    await dialog.getByLabel(/to confirm/).fill(folder);
    await remove.click();
    await expect(card).toHaveCount(0);
    await tab(page, "Settings");
    await page.getByRole("button", { name: "Delete collection…" }).click();
    await page.getByRole("dialog").getByLabel(/to confirm/).fill(NAME);
    await page.getByRole("dialog").getByRole("button", { name: "Delete collection" }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Collections" })).toBeVisible();
  });
  expect(errors).toEqual([]);
});
