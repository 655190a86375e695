/**
 * Embedded mode as `tessera dev` runs it: the coordinator, its admin API and a component's worker in one
 * process. A handler that spins or allocates without bound runs in a handler thread, so this process (the
 * coordinator) keeps answering and its other jobs finish.
 */
import { ReasonCode } from "@tessera/contract";
import { pollHealth } from "@tessera/testkit";
import { runWorker, type WorkerHandle } from "@tessera/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAdminServer, type AdminServer } from "../src/index.js";
import { spinning } from "./fixtures/spinning-component.js";
import { embedded, silent, spec, type Embedded } from "./harness.js";

const componentSpec = spec({ timeouts: { wallClock: "60s", ackWait: "5s" }, handlerLimits: { maxHeapMiB: 64 } });

let world: Embedded;
let admin: AdminServer;
let worker: WorkerHandle;

beforeAll(async () => {
  world = await embedded({ memory: true }, [{ name: spinning.name, spec: componentSpec }]);
  admin = await startAdminServer(world.coordinator, { port: 0 });
  // As `tessera dev` does: the spec's handler limits go to the worker.
  worker = await runWorker(spinning, { bus: world.bus, logger: silent, handlerLimits: componentSpec.handlerLimits });
  // Warm threads for the jobs timed below (from the sources through tsx, a start takes seconds on a busy machine).
  const warm = await Promise.all(
    [1, 2, 3].map(() => world.coordinator.submit(spinning.name, { json: { mode: "nap", sleepMs: 300 } })),
  );
  for (const w of warm) await world.coordinator.waitForJob(w.jobId, { timeoutMs: 120_000 });
}, 180_000);
afterAll(async () => {
  await worker?.stop();
  await admin?.close();
  await world?.close();
});

describe("a coordinator with its components embedded", { timeout: 150_000 }, () => {
  it("records a spinning handler's job failed with timeout at its 100 ms wall clock while the admin API answers", async () => {
    const health = pollHealth(`${admin.url}/healthz`);
    const nap = await world.coordinator.submit(spinning.name, { json: { mode: "nap", sleepMs: 1_000 } });
    const started = performance.now();
    const spin = await world.coordinator.submit(
      spinning.name,
      { json: { mode: "spin" } },
      { limits: { wallClockMs: 100 } },
    );
    const record = await world.coordinator.waitForJob(spin.jobId, { timeoutMs: 10_000 });
    const elapsed = performance.now() - started;
    expect(record).toMatchObject({ state: "failed", reasonCode: ReasonCode.Timeout });
    expect(elapsed).toBeLessThan(1_000);
    expect(await world.coordinator.waitForJob(nap.jobId, { timeoutMs: 60_000 })).toMatchObject({ state: "completed" });
    const polled = await health.stop();
    expect(polled.failures).toEqual([]);
    expect(polled.answered).toBeGreaterThan(0);
    expect(polled.maxMs).toBeLessThan(1_000);
  });

  it("records a handler allocating without bound failed with memory_limit; the coordinator lives on", async () => {
    const health = pollHealth(`${admin.url}/healthz`);
    const hog = await world.coordinator.submit(spinning.name, { json: { mode: "hog" } });
    const record = await world.coordinator.waitForJob(hog.jobId, { timeoutMs: 60_000 });
    expect(record).toMatchObject({ state: "failed", reasonCode: ReasonCode.MemoryLimit });
    expect(record.reasonDetail).toContain("heap limit of 64 MiB");
    const next = await world.coordinator.submit(spinning.name, { json: { mode: "nap" } });
    expect(await world.coordinator.waitForJob(next.jobId, { timeoutMs: 60_000 })).toMatchObject({
      state: "completed",
    });
    expect((await health.stop()).failures).toEqual([]);
  });
});
