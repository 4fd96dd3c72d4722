import { expect, type Page } from "@playwright/test";

/** The first account of the system every spec signs in to (created by whichever spec runs first). */
export const ADMIN = { username: "ada", password: "correct horse battery staple" };

export type Person = { username: string; password: string };

/** A link of the main navigation. */
export function nav(page: Page, name: string | RegExp) {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name });
}

/** Sign in as `who` from the start page, creating the account when the system has none
 * yet; done once the collections have loaded. */
export async function signIn(page: Page, who: Person = ADMIN): Promise<void> {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  const answer = await page.request.get("/api/v1/auth/registration");
  const first = answer.ok() && ((await answer.json()) as { first_account: boolean }).first_account;
  if (first) await page.getByRole("button", { name: /Create an account/ }).click();
  await page.getByLabel("Username").fill(who.username);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: first ? "Create account and sign in" : "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Collections" })).toBeVisible();
  await expect(page.getByText("Loading collections…")).toHaveCount(0);
}
