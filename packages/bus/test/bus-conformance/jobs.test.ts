import { BusNotProvisionedError, type JobDelivery } from "@tessera/bus";
import { ContractValidationError } from "@tessera/contract";
import { sleep, waitFor } from "@tessera/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, makeJob, settings, uniqueComponent, type BackendUnderTest } from "./backends.js";

describe.each(backends)("[$name] jobs", (backend) => {
  let env: BackendUnderTest;
  beforeAll(async () => {
    env = await backend.setup();
  });
  afterAll(async () => env.teardown());

  it("deduplicates a publish by job_id within the window and reports the original seq", async () => {
    const c = uniqueComponent();
    await env.bus.ensureComponent(settings(c));
    const job = makeJob(c);
    const first = await env.bus.publishJob(job);
    const second = await env.bus.publishJob(job);
    expect(first.duplicate).toBe(false);
    expect(second).toEqual({ seq: first.seq, duplicate: true });
    expect((await env.bus.queueDepth(c)).pending).toBe(1);
    const redrive = await env.bus.publishJob(job, { dedupKey: `${job.job_id}:redrive:1` });
    expect(redrive.duplicate).toBe(false);
    expect(redrive.seq).toBeGreaterThan(first.seq);
  });

  it("accepts the same key again after the duplicate window", async () => {
    const c = uniqueComponent();
    await env.bus.ensureComponent(settings(c, { duplicateWindowMs: 1_000 }));
    const job = makeJob(c);
    await env.bus.publishJob(job);
    await sleep(1_500);
    expect((await env.bus.publishJob(job)).duplicate).toBe(false);
    expect((await env.bus.queueDepth(c)).pending).toBe(2);
  });

  it("validates jobs on publish, and publishes raw bytes unchanged with their dedup key", async () => {
    const c = uniqueComponent();
    await env.bus.ensureComponent(settings(c));
    await expect(env.bus.publishJob({ ...makeJob(c), limits: { max_bytes: 0, wall_clock: 1 } })).rejects.toBeInstanceOf(ContractValidationError);
    const raw = new Uint8Array([0xff, 0x00, 0x7b]);
    await env.bus.publishRawJob(c, raw, { dedupKey: "raw-1" });
    const got = await new Promise<JobDelivery>((resolve) => void env.bus.consumeJobs(c, { maxInFlight: 1 }, (d) => { d.ack(); resolve(d); }));
    expect([...got.data]).toEqual([...raw]);
    expect(got.dedupKey).toBe("raw-1");
    expect(got.component).toBe(c);
  });

  it("refuses to publish to, or bind, a component that was never provisioned", async () => {
    const c = uniqueComponent("missing");
    await expect(env.bus.publishJob(makeJob(c))).rejects.toBeInstanceOf(BusNotProvisionedError);
    await expect(env.bus.consumeJobs(c, { maxInFlight: 1, bindOnly: true }, () => undefined)).rejects.toBeInstanceOf(BusNotProvisionedError);
  });

  it("ack removes the job; queueDepth counts pending and ack-pending", async () => {
    const c = uniqueComponent();
    await env.bus.ensureComponent(settings(c));
    for (let i = 0; i < 3; i++) await env.bus.publishJob(makeJob(c));
    expect(await env.bus.queueDepth(c)).toEqual({ pending: 3, ackPending: 0, total: 3 });
    const held: JobDelivery[] = [];
    const sub = await env.bus.consumeJobs(c, { maxInFlight: 2 }, (d) => void held.push(d));
    await waitFor("two deliveries", () => held.length === 2);
    await waitFor("depth 1 pending + 2 ack-pending", async () => {
      const d = await env.bus.queueDepth(c);
      return d.pending === 1 && d.ackPending === 2 && d.total === 3;
    });
    held.forEach((d) => d.ack());
    await waitFor("the third delivery", () => held.length === 3);
    held[2]?.ack();
    await waitFor("an empty queue", async () => (await env.bus.queueDepth(c)).total === 0);
    await sub.stop();
  });

  it("redelivers an unsettled job after the ack wait with the next delivery count", async () => {
    const c = uniqueComponent();
    await env.bus.ensureComponent(settings(c, { ackWaitMs: 500 }));
    await env.bus.publishJob(makeJob(c));
    const counts: number[] = [];
    const sub = await env.bus.consumeJobs(c, { maxInFlight: 5 }, (d) => {
      counts.push(d.deliveryCount);
      if (d.deliveryCount === 2) d.ack();
    });
    await waitFor("the redelivery", () => counts.length === 2, 10_000);
    expect(counts).toEqual([1, 2]);
    await sleep(800);
    expect(counts).toEqual([1, 2]);
    await sub.stop();
  });

  it("working() keeps a job alive across several ack waits: delivered once", async () => {
    const c = uniqueComponent();
    await env.bus.ensureComponent(settings(c, { ackWaitMs: 500 }));
    await env.bus.publishJob(makeJob(c));
    let deliveries = 0;
    const sub = await env.bus.consumeJobs(c, { maxInFlight: 5 }, async (d) => {
      deliveries++;
      expect(d.ackWaitMs).toBe(500);
      for (let i = 0; i < 8; i++) {
        await sleep(200);
        d.working();
      }
      d.ack();
    });
    await waitFor("the job to finish", async () => deliveries === 1 && (await env.bus.queueDepth(c)).total === 0, 10_000);
    await sleep(700);
    expect(deliveries).toBe(1);
    await sub.stop();
  });

  it("nak(delay) redelivers no sooner than the delay", async () => {
    const c = uniqueComponent();
    await env.bus.ensureComponent(settings(c));
    await env.bus.publishJob(makeJob(c));
    const at: number[] = [];
    const sub = await env.bus.consumeJobs(c, { maxInFlight: 1 }, (d) => {
      at.push(Date.now());
      if (d.deliveryCount === 1) d.nak(700);
      else d.ack();
    });
    await waitFor("the redelivery", () => at.length === 2, 10_000);
    expect((at[1] as number) - (at[0] as number)).toBeGreaterThanOrEqual(600);
    await sub.stop();
  });

  it("term() removes the job and it is never redelivered", async () => {
    const c = uniqueComponent();
    await env.bus.ensureComponent(settings(c, { ackWaitMs: 400 }));
    await env.bus.publishJob(makeJob(c));
    let deliveries = 0;
    const sub = await env.bus.consumeJobs(c, { maxInFlight: 1 }, (d) => {
      deliveries++;
      d.term();
      d.ack(); // settle-once: ignored
    });
    await waitFor("the delivery", () => deliveries === 1);
    await sleep(1_000);
    expect(deliveries).toBe(1);
    expect((await env.bus.queueDepth(c)).total).toBe(0);
    await sub.stop();
  });

  it("a handler that throws is treated as nak: the job comes back", async () => {
    const c = uniqueComponent();
    await env.bus.ensureComponent(settings(c));
    await env.bus.publishJob(makeJob(c));
    const counts: number[] = [];
    const sub = await env.bus.consumeJobs(c, { maxInFlight: 1 }, (d) => {
      counts.push(d.deliveryCount);
      if (d.deliveryCount === 1) throw new Error("boom");
      d.ack();
    });
    await waitFor("the redelivery", () => counts.length === 2, 10_000);
    expect(counts).toEqual([1, 2]);
    await sub.stop();
  });

  it("keeps at most maxInFlight deliveries unsettled per subscription", async () => {
    const c = uniqueComponent();
    await env.bus.ensureComponent(settings(c));
    for (let i = 0; i < 10; i++) await env.bus.publishJob(makeJob(c));
    let unsettled = 0;
    let peak = 0;
    let done = 0;
    const sub = await env.bus.consumeJobs(c, { maxInFlight: 3 }, async (d) => {
      unsettled++;
      peak = Math.max(peak, unsettled);
      await sleep(30);
      unsettled--;
      d.ack();
      done++;
    });
    await waitFor("all ten", () => done === 10, 15_000);
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThan(1);
    await sub.stop();
  });

  it("two subscriptions share the queue: each job is delivered to exactly one", async () => {
    const c = uniqueComponent();
    await env.bus.ensureComponent(settings(c));
    const other = await env.newClient();
    const seen = new Map<string, number>();
    const handler = async (d: JobDelivery): Promise<void> => {
      seen.set(d.dedupKey ?? "", (seen.get(d.dedupKey ?? "") ?? 0) + 1);
      await sleep(5);
      d.ack();
    };
    const a = await env.bus.consumeJobs(c, { maxInFlight: 4 }, handler);
    const b = await other.consumeJobs(c, { maxInFlight: 4 }, handler);
    for (let i = 0; i < 40; i++) await env.bus.publishJob(makeJob(c));
    await waitFor("all forty", () => seen.size === 40, 15_000);
    await sleep(300);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    await a.stop();
    await b.stop();
  });

  it("stop() stops delivery; the jobs wait for the next consumer", async () => {
    const c = uniqueComponent();
    await env.bus.ensureComponent(settings(c));
    let got = 0;
    const sub = await env.bus.consumeJobs(c, { maxInFlight: 2 }, (d) => {
      got++;
      d.ack();
    });
    await sub.stop();
    await sub.closed;
    await env.bus.publishJob(makeJob(c));
    await sleep(500);
    expect(got).toBe(0);
    expect((await env.bus.queueDepth(c)).pending).toBe(1);
    const again = await env.bus.consumeJobs(c, { maxInFlight: 2 }, (d) => {
      got++;
      d.ack();
    });
    await waitFor("the job", () => got === 1);
    await again.stop();
  });
});
