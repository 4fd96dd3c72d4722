import { defineConfig } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/*
 * The UI against the whole system started as a user starts it: `semantik run` on its own
 * port with a fresh data dir (its own nats-server, SQLite, Qdrant Edge, the packaged
 * model). Debian's chromium, never a downloaded browser. The config is read again by each
 * worker, so the port and the data dir travel in the environment, chosen once.
 */
process.env.SEMANTIK_E2E_DATA_DIR ??= mkdtempSync(join(tmpdir(), "semantik-ui-e2e-"));
// A port the system asks for and frees again, read synchronously (config is not async).
process.env.SEMANTIK_E2E_PORT ??= execFileSync(process.execPath, [
  "-e",
  "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });",
])
  .toString()
  .trim();
const dataDir = process.env.SEMANTIK_E2E_DATA_DIR;
const port = process.env.SEMANTIK_E2E_PORT;
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "e2e",
  // One system, one flow: the steps build on each other.
  workers: 1,
  fullyParallel: false,
  timeout: 180_000,
  expect: { timeout: 90_000 },
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL,
    browserName: "chromium",
    viewport: { width: 1280, height: 800 },
    trace: "off",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      // Without these, chromium reaches for Google's hosts on a closed network and hangs.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: "env -u NATS_URL -u DATABASE_URL -u QDRANT_URL ../.venv/bin/semantik run",
    url: `${baseURL}/health/ready`,
    timeout: 300_000,
    reuseExistingServer: false,
    stdout: "ignore",
    stderr: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 40_000 },
    env: {
      SEMANTIK_DATA_DIR: dataDir,
      SEMANTIK_PORT: port,
      SEMANTIK_HOST: "127.0.0.1",
      LOG_LEVEL: "WARNING",
      // webhooks.spec.ts's receiver listens on 127.0.0.1.
      SEMANTIK_WEBHOOK_ALLOW_PRIVATE: "true",
    },
  },
});
