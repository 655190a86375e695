/**
 * The failure rate per revision in Chromium: a coordinator (memory store, in-process bus) with two workers of one
 * component, one a canary by its instance id (in Kubernetes a canary pod's name starts with `<name>.canary-`),
 * each failing its own share of the jobs; the Components page shows each revision's failure rate, and the
 * figures are the ones the store's job records give.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { createInProcessBus, type Bus } from "@tessera/bus";
import { canaryInstancePrefix, revisionOfInstance, type ComponentSpec } from "@tessera/contract";
import { createCoordinator, startAdminServer, type AdminServer, type Coordinator } from "@tessera/coordinator";
import { TerminalError, defineComponent, runWorker, type WorkerHandle } from "@tessera/worker";
import { pino } from "pino";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dashboardAssetsDir } from "../src/index.js";
import { CHROMIUM_ARGS, findChromium, MISSING_CHROMIUM } from "./support/chromium.js";

const DASHBOARD = fileURLToPath(new URL("../", import.meta.url));
const ARTIFACTS = join(DASHBOARD, "test-artifacts");
const NAME = "flaky";
const JOBS = 40;
const spec: ComponentSpec = { image: "example/flaky:1", inputMode: "content-ref", egress: "none" };
const silent = pino({ level: "silent" });

const executablePath = findChromium();
if (executablePath === undefined) {
  if (process.env["CI"] === "true") throw new Error(MISSING_CHROMIUM);
  console.warn(`skipping the dashboard canary test: ${MISSING_CHROMIUM}`);
}

describe.skipIf(executablePath === undefined)("a canary's failure rate in Chromium", { timeout: 120_000 }, () => {
  let bus: Bus;
  let coordinator: Coordinator;
  let admin: AdminServer;
  let browser: Browser;
  let page: Page;
  const workers: WorkerHandle[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await build({ configFile: join(DASHBOARD, "vite.config.ts"), root: DASHBOARD, logLevel: "warn" });
    bus = createInProcessBus();
    coordinator = await createCoordinator({
      env: {},
      logger: silent,
      bus,
      components: [{ name: NAME, spec }],
      database: { memory: true },
    });
    admin = await startAdminServer(coordinator, { logger: false, dashboard: dashboardAssetsDir() });
    // The stable revision fails every tenth job it runs, the canary every other one.
    const revision = (failEvery: number) => {
      let ran = 0;
      return defineComponent({
        name: NAME,
        version: "1.0.0",
        isolation: "none",
        handle: () => {
          ran += 1;
          if (ran % failEvery === 0) throw new TerminalError("flaky_failure", `job ${ran} of this revision fails`);
          return { ok: ran };
        },
      });
    };
    workers.push(
      await runWorker(revision(10), {
        bus,
        instanceId: `${NAME}-7d9f6-x2k4p`,
        logger: silent,
        heartbeatIntervalMs: 200,
      }),
      await runWorker(revision(2), {
        bus,
        instanceId: `${canaryInstancePrefix(NAME)}5c8b4-q7m2z`,
        revision: "canary",
        logger: silent,
        heartbeatIntervalMs: 200,
      }),
    );
    browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    for (const w of workers) await w.stop();
    await admin?.close();
    await coordinator?.close();
    await bus?.close();
  });

  it("shows the stable and the canary failure rate, as the job records give them", async () => {
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i++) ids.push((await coordinator.submit(NAME, { json: { i } })).jobId);
    const records = await Promise.all(ids.map((id) => coordinator.waitForJob(id, { timeoutMs: 60_000 })));
    const expected = { stable: { completed: 0, failed: 0 }, canary: { completed: 0, failed: 0 } };
    for (const r of records) {
      expect(r.instanceId).not.toBeNull();
      expected[revisionOfInstance(NAME, r.instanceId!)][r.state as "completed" | "failed"] += 1;
    }
    // Both revisions ran jobs (they compete for the one queue).
    expect(expected.stable.completed + expected.stable.failed).toBeGreaterThan(0);
    expect(expected.canary.completed + expected.canary.failed).toBeGreaterThan(0);
    const status = await coordinator.component(NAME);
    expect(status?.revisions).toEqual({ windowMs: 15 * 60_000, ...expected });

    await page.goto(`${admin.url}/`);
    const card = page.getByTestId(`component-${NAME}`);
    const rate = (o: { completed: number; failed: number }) =>
      `${Math.round((o.failed / (o.completed + o.failed)) * 1000) / 10}%`;
    for (const revision of ["stable", "canary"] as const) {
      const row = card.getByTestId(`revision-${revision}`);
      await expect.poll(() => row.getByTestId("failure-rate").textContent()).toBe(rate(expected[revision]));
      const o = expected[revision];
      expect(await row.getByTestId("decided").textContent()).toBe(`${o.failed} of ${o.completed + o.failed}`);
    }
    await page.screenshot({ path: join(ARTIFACTS, "components-canary.png"), fullPage: true });
  });
});
