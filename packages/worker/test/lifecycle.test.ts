import { createInProcessBus, type Bus, type HeartbeatEvent } from "@tessera/bus";
import type { Heartbeat } from "@tessera/contract";
import { sleep, waitFor, withOverrides } from "@tessera/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { defineComponent, runWorker, type WorkerHandle } from "../src/index.js";
import { componentName, makeJob, silent, spyingBus, startHarness, type Harness, type SettleEvent } from "./helpers.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
async function harness(...args: Parameters<typeof startHarness>): Promise<Harness> {
  const h = await startHarness(...args);
  cleanups.push(() => h.stop());
  return h;
}
function newBus(): Bus {
  const bus = createInProcessBus();
  cleanups.push(() => bus.close());
  return bus;
}
async function worker(...args: Parameters<typeof runWorker>): Promise<WorkerHandle> {
  const w = await runWorker(...args);
  cleanups.push(() => w.stop());
  return w;
}
const settings = (name: string) => ({ name, ackWaitMs: 1_000, maxDeliver: 5, duplicateWindowMs: 60_000 });
const get = async (
  port: number | undefined,
  path: string,
  init?: RequestInit,
): Promise<{ status: number; body: string; type: string | null }> => {
  const res = await fetch(`http://127.0.0.1:${String(port)}${path}`, init);
  return { status: res.status, body: await res.text(), type: res.headers.get("content-type") };
};

describe("HTTP endpoints (real HTTP on 127.0.0.1, ephemeral port)", () => {
  it("/healthz 200, /readyz 200 when bound, /metrics in Prometheus text, unknown path 404, POST 405", async () => {
    const h = await harness({ handle: () => "ok" }, { worker: { http: { host: "127.0.0.1", port: 0 } } });
    const port = h.worker.httpPort;
    expect(port).toBeGreaterThan(0);
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    await h.result(job.job_id);

    const health = await get(port, "/healthz");
    expect(health.status).toBe(200);
    const build = JSON.parse(health.body) as { status: string; version: string; commit: string };
    expect(build).toEqual({
      status: "ok",
      version: expect.any(String) as string,
      commit: expect.any(String) as string,
    });
    const ready = await get(port, "/readyz");
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ ready: true, reason: "consuming" });

    const metrics = await get(port, "/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/^text\/plain/);
    const c = `component="${h.name}"`;
    expect(metrics.body).toContain(`tessera_jobs_total{${c},outcome="completed",revision="stable"} 1`);
    expect(metrics.body).toContain(`tessera_jobs_total{${c},outcome="failed",revision="stable"} 0`);
    expect(metrics.body).toMatch(
      new RegExp(`tessera_handler_duration_seconds_count\\{${c},outcome="completed",revision="stable"\\} 1`),
    );
    expect(metrics.body).toContain(`tessera_jobs_in_flight{${c}} 0`);
    // /healthz and tessera_build_info answer from one source.
    expect(metrics.body).toContain(`tessera_build_info{version="${build.version}",commit="${build.commit}"} 1`);

    const missing = await get(port, "/nope");
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).error).toMatch(/no route \/nope/);
    expect((await get(port, "/healthz", { method: "POST" })).status).toBe(405);
  });

  it("/readyz is 503 with the reason while the component is not provisioned, 200 once it is bound", async () => {
    const bus = newBus();
    const name = componentName("late");
    const w = await worker(defineComponent({ isolation: "none", name, handle: () => "late" }), {
      bus,
      logger: silent,
      http: { host: "127.0.0.1", port: 0 },
      heartbeatIntervalMs: 60_000,
    });
    expect(w.ready).toBe(false);
    const notReady = await get(w.httpPort, "/readyz");
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body)).toMatchObject({
      ready: false,
      reason: expect.stringMatching(/not provisioned: .*does not exist/),
    });
    expect((await get(w.httpPort, "/healthz")).status).toBe(200); // alive, just not ready

    await bus.ensureComponent(settings(name));
    await waitFor("the worker to bind", () => w.ready, 10_000);
    expect((await get(w.httpPort, "/readyz")).status).toBe(200);
    const job = makeJob(name);
    await bus.publishJob(job);
    expect(await waitFor("the Result", () => bus.getResult(name, job.job_id))).toMatchObject({ status: "completed" });
  });

  it("loses readiness when its subscription ends and rebinds when the consumer is back", async () => {
    const h = await harness({ handle: () => "again" });
    expect(h.worker.ready).toBe(true);
    await h.bus.removeComponent(h.name);
    await waitFor("not ready", () => !h.worker.ready);
    await h.bus.ensureComponent(settings(h.name));
    await waitFor("ready again", () => h.worker.ready, 10_000);
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    expect(await h.result(job.job_id)).toMatchObject({ status: "completed" });
  });

  it("readiness is false when the bus is not connected", async () => {
    const h = await harness({ handle: () => undefined }, { worker: { http: { host: "127.0.0.1", port: 0 } } });
    await h.bus.close();
    const r = await get(h.worker.httpPort, "/readyz");
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).reason).toMatch(/not connected/);
  });
});

describe("heartbeats", () => {
  it("are published on an interval with the instance's state", async () => {
    const bus = newBus();
    const name = componentName("beat");
    await bus.ensureComponent(settings(name));
    const beats: Heartbeat[] = [];
    const sub = await bus.subscribeHeartbeats((e: HeartbeatEvent) => {
      if (e.kind === "heartbeat" && e.heartbeat.component === name) beats.push(e.heartbeat);
    });
    cleanups.push(() => sub.stop());
    const w = await worker(
      defineComponent({ isolation: "none", name, version: "2.1.0", concurrency: 3, handle: () => undefined }),
      {
        bus,
        logger: silent,
        instanceId: "beat-1",
        heartbeatIntervalMs: 40,
      },
    );
    await waitFor("three beats", () => beats.length >= 3);
    expect(beats[0]).toMatchObject({
      schema_version: 1,
      component: name,
      instance_id: "beat-1",
      version: "2.1.0",
      in_flight: 0,
      concurrency: 3,
      interval_ms: 40,
    });
    expect(Date.parse(beats[0]?.sent_at ?? "")).toBeGreaterThan(Date.now() - 60_000);
    await w.stop();
    const after = beats.length;
    await sleep(150);
    expect(beats.length).toBe(after); // stopped with the worker
  });

  it("report the jobs in flight", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const beats: Heartbeat[] = [];
    const bus = newBus();
    const sub = await bus.subscribeHeartbeats((e) => void (e.kind === "heartbeat" && beats.push(e.heartbeat)));
    cleanups.push(() => sub.stop());
    const h = await harness({ handle: () => gate }, { bus, worker: { heartbeatIntervalMs: 30 } });
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    await waitFor("a beat with one job in flight", () => beats.some((b) => b.in_flight === 1));
    expect(h.worker.inFlight).toBe(1);
    release();
    await h.result(job.job_id);
    expect(h.worker.inFlight).toBe(0);
  });

  it("a failing heartbeat publish is logged, never fatal", async () => {
    let attempts = 0;
    const h = await harness(
      { handle: () => "still working" },
      {
        wrap: (bus) =>
          withOverrides(bus, {
            publishHeartbeat: async () => {
              attempts++;
              throw new Error("core NATS unavailable");
            },
          }),
        worker: { heartbeatIntervalMs: 20 },
      },
    );
    await waitFor("several failed beats", () => attempts >= 3);
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    expect(await h.result(job.job_id)).toMatchObject({ status: "completed" });
    expect(h.worker.ready).toBe(true);
  });
});

describe("drain", () => {
  it("stop(): not ready at once, no new jobs, running jobs finish and are acked", async () => {
    let started = 0;
    let settles: SettleEvent[] = [];
    const h = await harness(
      {
        concurrency: 2,
        handle: async () => {
          started++;
          await sleep(300);
          return "finished during drain";
        },
      },
      {
        wrap: (bus) => {
          const s = spyingBus(bus);
          settles = s.settles;
          return s.bus;
        },
        worker: { http: { host: "127.0.0.1", port: 0 }, drainGraceMs: 5_000 },
      },
    );
    const port = h.worker.httpPort;
    const running = [makeJob(h.name), makeJob(h.name)];
    for (const j of running) await h.bus.publishJob(j);
    await waitFor("both running", () => h.worker.inFlight === 2);

    const stopped = h.worker.stop();
    expect(h.worker.ready).toBe(false);
    const r = await get(port, "/readyz");
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).reason).toMatch(/draining/);

    const late = makeJob(h.name);
    await h.bus.publishJob(late);
    await stopped;
    for (const j of running) expect(await h.bus.getResult(h.name, j.job_id)).toMatchObject({ status: "completed" });
    expect(settles.map((e) => e.action)).toEqual(["ack", "ack"]);
    expect(started).toBe(2);
    expect(await h.bus.getResult(h.name, late.job_id)).toBeUndefined(); // never pulled
    expect(await h.bus.queueDepth(h.name)).toMatchObject({ pending: 1 });
    await expect(fetch(`http://127.0.0.1:${String(port)}/healthz`)).rejects.toThrow(); // server closed
    await h.worker.stop(); // idempotent
  });

  it("past the grace period: running handlers are aborted and nak'd, and another worker runs them", async () => {
    const aborted: string[] = [];
    let settles: SettleEvent[] = [];
    const h = await harness(
      {
        handle: (ctx) =>
          new Promise((_resolve, reject) => {
            ctx.signal.addEventListener("abort", () => {
              aborted.push((ctx.signal.reason as Error).name);
              reject(ctx.signal.reason as Error);
            });
          }),
      },
      {
        wrap: (bus) => {
          const s = spyingBus(bus);
          settles = s.settles;
          return s.bus;
        },
        worker: { drainGraceMs: 100 },
      },
    );
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    await waitFor("the job running", () => h.worker.inFlight === 1);
    await h.worker.stop();
    expect(aborted).toEqual(["AbortError"]);
    expect(settles).toEqual([{ action: "nak", streamSeq: 1, deliveryCount: 1, delayMs: 0 }]);
    expect(await h.bus.getResult(h.name, job.job_id)).toBeUndefined();

    const next = await worker(
      defineComponent({ isolation: "none", name: h.name, handle: (ctx) => `rerun on attempt ${ctx.attempt}` }),
      {
        bus: h.bus,
        logger: silent,
        heartbeatIntervalMs: 60_000,
      },
    );
    expect(await h.result(job.job_id)).toMatchObject({
      status: "completed",
      attempt: 2,
      output: { data: "rerun on attempt 2" },
    });
    await next.stop();
  });
});

describe("a bus that fails in odd places", () => {
  it("a consumeJobs that throws something other than BusNotProvisionedError is retried too", async () => {
    const bus = newBus();
    const name = componentName("flaky-bind");
    await bus.ensureComponent(settings(name));
    let failures = 2;
    const flaky = withOverrides(bus, {
      consumeJobs: (...args: Parameters<Bus["consumeJobs"]>) => {
        if (failures-- > 0) return Promise.reject(new Error("timeout binding"));
        return bus.consumeJobs(...args);
      },
    });
    const w = await worker(defineComponent({ isolation: "none", name, handle: () => undefined }), {
      bus: flaky,
      logger: silent,
      heartbeatIntervalMs: 60_000,
    });
    expect(w.ready).toBe(false);
    await waitFor("bound after retries", () => w.ready, 10_000);
  });
});
