// Browser end-to-end tests: the built interface (`vite build --mode e2e`,
// in dist-e2e/) in Debian's Chromium, headless, with Tauri's IPC answered
// by the fake backend (src/fake/backend.ts) that the e2e build installs.
import { defineConfig } from "@playwright/test";

// E2E_PORT moves the server when 4173 is taken (another run on the machine).
const port = Number(process.env.E2E_PORT ?? 4173);

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  timeout: 60_000,
  expect: { timeout: 10_000 },
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      // As root in a container, and on a network that reaches only the
      // package registries: no sandbox, no GPU, no background traffic.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  webServer: {
    command: `npx vite preview --outDir dist-e2e --host 127.0.0.1 --port ${port} --strictPort`,
    url: `http://127.0.0.1:${port}`,
    reuseExistingServer: false,
    timeout: 60_000,
  },
});
