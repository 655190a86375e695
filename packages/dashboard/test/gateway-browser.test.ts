import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInProcessBus } from "@tessera/bus";
import { createCoordinator, startAdminServer, type AdminServer, type Coordinator } from "@tessera/coordinator";
import {
  InProcessInboundStream,
  createAdapterRegistry,
  sampleInbound,
  startInboundServer,
  toGatewayAccount,
  type InboundServer,
} from "@tessera/gateway";
import { chromium, type Browser, type Page } from "playwright-core";
import { pino } from "pino";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, findChromium, MISSING_CHROMIUM } from "./support/chromium.js";

/*
 * The gateway page in Chromium against a coordinator with `tessera dev`'s embedded gateway (the in-process
 * inbound stream and the sample adapter): accounts with their webhook paths, the stream's figures, a webhook
 * appearing in the live tail as it is stored, and Disable making the gateway refuse the account's webhooks.
 */

const DASHBOARD = fileURLToPath(new URL("../", import.meta.url));
const ARTIFACTS = join(DASHBOARD, "test-artifacts");
const executablePath = findChromium();
if (executablePath === undefined) {
  if (process.env["CI"] === "true") throw new Error(MISSING_CHROMIUM);
  console.warn(`skipping the dashboard's gateway browser test: ${MISSING_CHROMIUM}`);
}

describe.skipIf(executablePath === undefined)("the gateway page in Chromium", { timeout: 60_000 }, () => {
  let browser: Browser;
  let page: Page;
  let coordinator: Coordinator;
  let admin: AdminServer;
  let inbound: InboundServer;
  let assets: string;
  const bus = createInProcessBus();
  const stream = new InProcessInboundStream();
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // A build of its own, so this file and the other browser tests never write one dist/ at once.
    assets = mkdtempSync(join(tmpdir(), "tessera-dashboard-gateway-"));
    await build({
      configFile: join(DASHBOARD, "vite.config.ts"),
      root: DASHBOARD,
      logLevel: "warn",
      build: { outDir: assets, emptyOutDir: true },
    });
    coordinator = await createCoordinator({
      bus,
      components: [],
      database: { memory: true },
      env: {},
      logger: pino({ level: "silent" }),
      gateway: { feed: stream },
    });
    await coordinator.gateway.put({ channelType: "sample", tenant: "dev", account: "local" }, {});
    await coordinator.gateway.put(
      { channelType: "slack", tenant: "acme", account: "T123" },
      { rateLimit: { perSecond: 1, burst: 2 } },
    );
    inbound = await startInboundServer({
      jetstream: stream,
      registry: createAdapterRegistry({ inbound: [sampleInbound()] }),
      accounts: {
        get: async (channelType, tenant, account) => {
          const found = await coordinator.gateway.resolve({ channelType, tenant, account });
          return found === undefined ? undefined : toGatewayAccount(found.view, found.secrets);
        },
      },
    });
    [admin, browser] = await Promise.all([
      startAdminServer(coordinator, { dashboard: assets }),
      chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS }),
    ]);
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.setDefaultTimeout(15_000);
    page.on("pageerror", (err) => pageErrors.push(String(err)));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await inbound?.close();
    await admin?.close();
    await coordinator?.close();
    await bus.close();
    if (assets !== undefined) rmSync(assets, { recursive: true, force: true });
  });

  const post = (text: string) =>
    fetch(`${inbound.url}/hooks/sample/dev/local`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text, sender: { id: "u1", name: "Ann" } }),
    });

  it("lists the accounts with their webhook paths and limits", async () => {
    await page.goto(`${admin.url}/gateway`);
    const slack = page.locator('[data-testid="gateway-account-row"][data-account-id="slack/acme/T123"]');
    await expect.poll(() => slack.getByTestId("webhook").textContent()).toBe("/hooks/slack/acme/T123");
    expect(await slack.textContent()).toContain("1/s, burst 2");
    expect(await slack.getByTestId("credentials").textContent()).toBe("none");
    expect(await page.getByTestId("gateway-mode").textContent()).toContain("in-process");
  });

  it("shows a webhook in the live tail as it is stored, and the stream's count", async () => {
    await expect.poll(() => page.getByTestId("tail-status").textContent()).toBe("live");
    expect((await post("hello from the browser test")).status).toBe(200);
    const row = page.getByTestId("tail-row").first();
    await expect.poll(() => row.getByTestId("tail-text").textContent()).toBe("hello from the browser test");
    expect(await row.textContent()).toContain("sample/dev/local");
    expect(await row.textContent()).toContain("Ann");
    await expect
      .poll(() => page.locator('[data-stream="TESSERA_GW_INBOUND"]').getByTestId("stream-messages").textContent(), {
        timeout: 15_000,
      })
      .toBe("1");
    await page.screenshot({ path: join(ARTIFACTS, "gateway.png"), fullPage: true });
  });

  it("Disable makes the gateway refuse the account's webhooks (403); Enable lets them in again", async () => {
    const sample = page.locator('[data-testid="gateway-account-row"][data-account-id="sample/dev/local"]');
    await sample.getByRole("button", { name: "Disable" }).click();
    await expect.poll(() => sample.locator("[data-state]").textContent()).toBe("disabled");
    expect((await post("refused")).status).toBe(403);
    await sample.getByRole("button", { name: "Enable" }).click();
    await expect.poll(() => sample.locator("[data-state]").textContent()).toBe("enabled");
    expect((await post("let in again")).status).toBe(200);
    await expect
      .poll(() => page.getByTestId("tail-row").first().getByTestId("tail-text").textContent())
      .toBe("let in again");
    expect(await page.getByTestId("tail-row").count()).toBe(2);
    expect(pageErrors).toEqual([]);
  });
});
