import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInProcessBus } from "@tessera/bus";
import { createCoordinator, startAdminServer, type AdminServer, type Coordinator } from "@tessera/coordinator";
import { createEgress, type Egress } from "@tessera/egress";
import { OAuthTestServer, freePort } from "@tessera/testkit";
import { chromium, type Browser, type Page } from "playwright-core";
import { pino } from "pino";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, findChromium, MISSING_CHROMIUM } from "./support/chromium.js";

/*
 * The connections page in Chromium against a coordinator whose connectors point at a real authorization
 * server (OAuthTestServer): Connect → the provider's authorization endpoint → the coordinator's
 * /oauth/callback → the page lists the connection; a refused refresh shows as needs_reauth with its error;
 * Disconnect asks, then removes it. No token the server issued appears in any page.
 */

const DASHBOARD = fileURLToPath(new URL("../", import.meta.url));
const ARTIFACTS = join(DASHBOARD, "test-artifacts");
const executablePath = findChromium();
if (executablePath === undefined) {
  if (process.env["CI"] === "true") throw new Error(MISSING_CHROMIUM);
  console.warn(`skipping the dashboard's connections browser test: ${MISSING_CHROMIUM}`);
}

describe.skipIf(executablePath === undefined)("the connections page in Chromium", { timeout: 60_000 }, () => {
  let browser: Browser;
  let page: Page;
  let auth: OAuthTestServer;
  let egress: Egress;
  let coordinator: Coordinator;
  let admin: AdminServer;
  let assets: string;
  const bus = createInProcessBus();
  /** The connectors' clock: moved forward to make a token expire. */
  let now = Date.now();
  const pages: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // A build of its own, so this file and browser.test.ts never write one dist/ at once.
    assets = mkdtempSync(join(tmpdir(), "tessera-dashboard-connections-"));
    const [port] = await Promise.all([
      freePort(),
      build({
        configFile: join(DASHBOARD, "vite.config.ts"),
        root: DASHBOARD,
        logLevel: "warn",
        build: { outDir: assets, emptyOutDir: true },
      }),
    ]);
    auth = await OAuthTestServer.start();
    egress = createEgress({ allow: { cidrs: ["127.0.0.1/32"] } });
    coordinator = await createCoordinator({
      bus,
      components: [],
      database: { memory: true },
      env: { TESSERA_VAULT_KEYS: `k1:${randomBytes(32).toString("base64")}` },
      logger: pino({ level: "silent" }),
      connectors: {
        providers: [
          {
            provider: {
              config: auth.providerConfig("mock"),
              api: {
                // One page read with the user's token: what makes the connector refresh it when it expired.
                async *sync(ctx) {
                  const res = await ctx.fetch(`${auth.issuer}/userinfo`);
                  yield { events: [], cursor: String(res.status) };
                },
              },
            },
            client: {
              clientId: "tesseradashboard",
              clientSecret: "dashboard-client-secret",
              redirectUri: `http://127.0.0.1:${port}/oauth/callback`,
            },
          },
        ],
        egress,
        allowInsecureRequests: true,
        now: () => now,
      },
    });
    [admin, browser] = await Promise.all([
      startAdminServer(coordinator, { port, dashboard: assets }),
      chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS }),
    ]);
    page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
    page.setDefaultTimeout(15_000);
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    page.on(
      "load",
      () =>
        void page.content().then(
          (html) => pages.push(html),
          () => undefined,
        ),
    );
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await admin?.close();
    await coordinator?.close();
    await egress?.close();
    await bus.close();
    await auth?.stop();
    if (assets !== undefined) rmSync(assets, { recursive: true, force: true });
  });

  const row = (id: string) => page.locator(`[data-testid="connection-row"][data-connection-id="${id}"]`);

  it("Connect goes to the provider and back through the callback; the connection is listed as connected", async () => {
    await page.goto(`${admin.url}/connections`);
    await expect.poll(() => page.getByTestId("connect-mock").isDisabled()).toBe(true);
    expect(await page.locator(".placeholder.empty").textContent()).toContain("No connections yet");
    await page.getByLabel("User").fill("alice");
    await page.getByTestId("connect-mock").click();

    // The authorization server redirects at once; the browser lands on the coordinator's callback page.
    await page.waitForURL((url) => url.pathname === "/oauth/callback");
    expect(page.url().startsWith(`${admin.url}/oauth/callback?code=`)).toBe(true);
    expect(await page.getByTestId("callback-title").textContent()).toBe("Connected");
    expect(await page.getByTestId("callback-detail").textContent()).toContain("alice is connected to mock");
    await page.screenshot({ path: join(ARTIFACTS, "connection-callback.png") });

    await page.getByTestId("back-to-connections").click();
    await page.waitForURL(`${admin.url}/connections`);
    const alice = row("mock:alice");
    await expect.poll(() => alice.locator("[data-state]").textContent()).toBe("connected");
    expect(await alice.getByTestId("expiry").textContent()).toMatch(/^in (59 min|1 h)$/);
    expect(await alice.getByTestId("last-error").textContent()).toBe("—");
    await page.screenshot({ path: join(ARTIFACTS, "connections.png"), fullPage: true });
  });

  it("a refresh the provider refuses shows as needs_reauth with its error", async () => {
    auth.revokeAllGrants();
    now += 2 * 3600_000;
    const signals = coordinator.connections!.connector("mock").fetchSignals("alice");
    await expect(signals[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: "needs_reauth" });
    await page.reload();
    const alice = row("mock:alice");
    await expect.poll(() => alice.locator("[data-state]").textContent()).toBe("needs_reauth");
    expect(await alice.getByTestId("last-error").textContent()).toBe("invalid_grant");
  });

  it("a callback with a state never issued (or used already) gets a page naming the problem, not a 5xx", async () => {
    const response = await page.goto(`${admin.url}/oauth/callback?code=used&state=not-a-state`);
    expect(response?.status()).toBe(400);
    expect(await page.getByTestId("callback-title").textContent()).toBe("This connection link is not valid any more");
    expect(await page.getByTestId("callback-detail").textContent()).toContain("start the connection again");
  });

  it("Disconnect asks first, then removes the connection; no page ever held a token", async () => {
    await page.goto(`${admin.url}/connections`);
    const alice = row("mock:alice");
    await alice.getByRole("button", { name: "Disconnect" }).click();
    const dialog = page.locator("dialog.confirm[open]");
    expect(await dialog.locator("h2").textContent()).toBe("Disconnect alice from mock?");
    await dialog.getByRole("button", { name: "Disconnect" }).click();
    await expect.poll(() => page.locator(".note.success").textContent()).toContain("Disconnected mock:alice");
    await expect.poll(() => alice.count()).toBe(0);
    pages.push(await page.content());

    expect(auth.issued.length).toBeGreaterThan(0);
    const html = pages.join("\n");
    for (const secret of [...auth.issued, "dashboard-client-secret"]) expect(html.includes(secret)).toBe(false);
    expect(pageErrors).toEqual([]);
  });
});
