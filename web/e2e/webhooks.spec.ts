import { expect, test, type Page } from "@playwright/test";
import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { signIn } from "./session";

/*
 * Webhooks, end to end (SPEC §13): a receiver on this machine (the system runs with
 * SEMANTIK_WEBHOOK_ALLOW_PRIVATE, playwright.config.ts) answers 500 twice, then 204. The
 * admin adds a webhook in the UI (a URL with credentials is refused on the form), copies
 * the secret shown once, creates a collection, and the receiver gets its CollectionCreated
 * signed with that secret; the delivery log shows it delivered at the third attempt. The
 * webhook is paused, then deleted after a confirmation.
 *
 * Independent of the other specs' order: the admin is the first account or signs in; what
 * this spec creates it deletes again.
 */

const SHOTS = join(import.meta.dirname, "screenshots");
const NAME = "hooked-notes";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A receiver that fails the first `failures` POSTs with 500 and takes the rest. */
function receiver(failures: number): Promise<{ server: Server; url: string; received: Received[]; answered: number[] }> {
  const received: Received[] = [];
  const answered: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const code = answered.length < failures ? 500 : 204;
      answered.push(code);
      if (code === 204) received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf-8") });
      res.writeHead(code).end();
    });
  });
  return new Promise((ready) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      ready({ server, url: `http://127.0.0.1:${port}/semantik`, received, answered });
    }),
  );
}

/** The Standard Webhooks signature of a delivery, with the secret the UI showed. */
function signature(secret: string, r: Received): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const signed = `${r.headers["webhook-id"]}.${r.headers["webhook-timestamp"]}.${r.body}`;
  return `v1,${createHmac("sha256", key).update(signed).digest("base64")}`;
}

const nav = (page: Page, name: string) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name });

test("a webhook added in the UI receives signed events, retried until they arrive", async ({ page }) => {
  test.setTimeout(240_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const hook = await receiver(2);
  try {
    await signIn(page);
    let secret = "";

    await test.step("a URL with credentials is refused on the form", async () => {
      await nav(page, "Webhooks").click();
      await expect(page.getByRole("heading", { level: 1, name: "Webhooks" })).toBeVisible();
      await page.getByLabel("Payload URL").fill(hook.url.replace("http://", "http://user:pw@"));
      await page.getByRole("button", { name: "Add webhook" }).click();
      const form = page.getByRole("form", { name: "Add a webhook" });
      await expect(form.getByRole("alert")).toContainText(/credentials/i);
      await expect(page.getByLabel("Signing secret")).toHaveCount(0);
    });

    await test.step("the webhook is added; its secret is shown once", async () => {
      await page.getByLabel("Payload URL").fill(hook.url);
      await page.getByLabel(/Description/).fill("e2e receiver");
      await page.getByLabel("Only these events").check();
      await page.getByLabel("Events: CollectionCreated").check();
      await page.getByRole("button", { name: "Add webhook" }).click();
      const field = page.getByLabel("Signing secret");
      await expect(field).toHaveValue(/^whsec_/);
      secret = await field.inputValue();
      await page.screenshot({ path: join(SHOTS, "30-webhook-secret.png"), fullPage: true });
      await page.getByRole("button", { name: "I have copied it" }).click();
      await expect(page.getByLabel("Signing secret")).toHaveCount(0);
      const row = page.getByRole("row", { name: new RegExp(hook.url) });
      await expect(row).toContainText("CollectionCreated");
      await expect(row).toContainText("active");
    });

    await test.step("a new collection's CollectionCreated arrives signed, at the third attempt", async () => {
      await nav(page, "Collections").click();
      await page.getByRole("button", { name: "Create collection", exact: true }).click();
      await page.getByRole("dialog").getByLabel("Name").fill(NAME);
      await page.getByRole("dialog").getByRole("button", { name: "Create" }).click();
      await expect(page.getByRole("heading", { level: 1, name: new RegExp(NAME) })).toBeVisible();
      await expect.poll(() => hook.received.length, { timeout: 90_000 }).toBeGreaterThan(0);
      const [first] = hook.received;
      expect(JSON.parse(first.body)).toMatchObject({ type: "CollectionCreated", data: { name: NAME } });
      expect(first.headers["webhook-signature"]).toBe(signature(secret, first));
      expect(hook.answered.slice(0, 3)).toEqual([500, 500, 204]);
    });

    await test.step("the delivery log shows it delivered after three attempts", async () => {
      await nav(page, "Webhooks").click();
      await page.getByRole("button", { name: `Deliveries to ${hook.url}` }).click();
      const log = page.getByRole("region", { name: `Deliveries to ${hook.url}` });
      const row = log.getByRole("row", { name: /CollectionCreated/ });
      await expect(async () => {
        await log.getByRole("button", { name: "Refresh" }).click();
        await expect(row).toContainText("delivered", { timeout: 2_000 });
      }).toPass({ timeout: 60_000 });
      await expect(row).toContainText(NAME);
      await expect(row.getByRole("cell").nth(2)).toHaveText("3");
      await expect(row).toContainText("HTTP 204");
      await page.screenshot({ path: join(SHOTS, "31-webhook-deliveries.png"), fullPage: true });
    });

    await test.step("paused, then deleted after a confirmation", async () => {
      await page.getByRole("button", { name: `Pause ${hook.url}` }).click();
      const row = page.getByRole("row", { name: new RegExp(hook.url) });
      await expect(row).toContainText("paused");
      await page.getByRole("button", { name: `Delete ${hook.url}` }).click();
      await row.getByRole("button", { name: "Delete now" }).click();
      await expect(page.getByRole("row", { name: new RegExp(hook.url) })).toHaveCount(0);
    });

    await test.step("the collection is deleted again (other specs expect none)", async () => {
      await nav(page, "Collections").click();
      await page.getByRole("link", { name: NAME, exact: true }).click();
      await page.getByRole("tab", { name: "Settings" }).click();
      await page.getByRole("button", { name: "Delete collection…" }).click();
      await page.getByRole("dialog").getByLabel(/to confirm/).fill(NAME);
      await page.getByRole("dialog").getByRole("button", { name: "Delete collection" }).click();
      await expect(page.getByTestId(`card-${NAME}`)).toHaveCount(0);
    });
  } finally {
    hook.server.close();
  }
  expect(errors).toEqual([]);
});
