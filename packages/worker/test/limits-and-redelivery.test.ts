import { sleep, waitFor, withOverrides } from "@tessera/testkit";
import { describe, expect, it } from "vitest";
import type { Bus } from "@tessera/bus";
import { harnessPerTest, makeJob, spyingBus, type Harness, type SettleEvent } from "./helpers.js";

const harness = harnessPerTest();

async function metricValue(h: Harness, outcome: string): Promise<number> {
  const metric = await h.worker.metrics.getSingleMetric("tessera_jobs_total")?.get();
  return metric?.values.find((v) => v.labels["outcome"] === outcome)?.value ?? 0;
}

describe("time limits", () => {
  it("wall_clock: a handler that ignores its signal still gets a failed Result `timeout` at the limit, then term", async () => {
    let settles: SettleEvent[] = [];
    const h = await harness(
      { handle: () => new Promise(() => undefined) /* never settles, ignores the signal */ },
      {
        wrap: (bus) => {
          const s = spyingBus(bus);
          settles = s.settles;
          return s.bus;
        },
      },
    );
    const job = makeJob(h.name, { limits: { max_bytes: 1_000, wall_clock: 150 } });
    const started = Date.now();
    await h.bus.publishJob(job);
    const result = await h.result(job.job_id);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(result).toMatchObject({ status: "failed", reason_code: "timeout", attempt: 1 });
    expect(result.reason_detail).toMatch(/wall clock limit of 150 ms/);
    await waitFor("the term", () => settles.length === 1);
    expect(settles[0]?.action).toBe("term");
    expect(await metricValue(h, "timeout")).toBe(1);
    expect(h.worker.inFlight).toBe(0);
  });

  it("the handler's signal aborts with a TimeoutError at the limit", async () => {
    const seen: { aborted: boolean; reasonName?: string }[] = [];
    const h = await harness({
      handle: (ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => {
            seen.push({ aborted: ctx.signal.aborted, reasonName: (ctx.signal.reason as Error).name });
            reject(ctx.signal.reason as Error);
          });
        }),
    });
    const job = makeJob(h.name, { limits: { max_bytes: 1_000, wall_clock: 100 } });
    await h.bus.publishJob(job);
    expect(await h.result(job.job_id)).toMatchObject({ status: "failed", reason_code: "timeout" });
    expect(seen).toEqual([{ aborted: true, reasonName: "TimeoutError" }]);
  });

  it("an abandoned handler does not hold its concurrency slot: the next job runs", async () => {
    const h = await harness({
      concurrency: 1,
      handle: async (ctx) => ((await ctx.input.json()) === "hang" ? new Promise(() => undefined) : "next ran"),
    });
    const hang = makeJob(h.name, { input: { inline: "hang" }, limits: { max_bytes: 1_000, wall_clock: 100 } });
    const next = makeJob(h.name);
    await h.bus.publishJob(hang);
    await h.bus.publishJob(next);
    expect(await h.result(hang.job_id)).toMatchObject({ reason_code: "timeout" });
    expect(await h.result(next.job_id)).toMatchObject({ status: "completed", output: { data: "next ran" } });
  });

  it("a deadline already passed: failed `timeout` without running the handler", async () => {
    let calls = 0;
    const h = await harness({ handle: () => void calls++ });
    const job = makeJob(h.name, { deadline: new Date(Date.now() - 1_000).toISOString() });
    await h.bus.publishJob(job);
    const result = await h.result(job.job_id);
    expect(result).toMatchObject({ status: "failed", reason_code: "timeout" });
    expect(result.reason_detail).toMatch(/deadline .* had passed before it started/);
    expect(calls).toBe(0);
  });

  it("a deadline sooner than wall_clock: the signal fires at the deadline", async () => {
    const h = await harness({
      handle: (ctx) =>
        new Promise((_r, reject) => ctx.signal.addEventListener("abort", () => reject(new Error("aborted")))),
    });
    const job = makeJob(h.name, {
      deadline: new Date(Date.now() + 200).toISOString(),
      limits: { max_bytes: 1_000, wall_clock: 60_000 },
    });
    await h.bus.publishJob(job);
    const result = await h.result(job.job_id);
    expect(result).toMatchObject({ status: "failed", reason_code: "timeout" });
    expect(result.reason_detail).toMatch(/still running at the job's deadline/);
  });
});

describe("output limit", () => {
  it("an output over handlerLimits.maxOutputBytes fails output_too_large, in the host's thread too", async () => {
    const h = await harness(
      { handle: async (ctx) => ((await ctx.input.json()) === "bytes" ? new Uint8Array(101) : "x".repeat(99)) },
      { worker: { handlerLimits: { maxOutputBytes: 100 } } },
    );
    const json = makeJob(h.name, { input: { inline: "json" } });
    const bytes = makeJob(h.name, { input: { inline: "bytes" } });
    await h.bus.publishJob(json);
    await h.bus.publishJob(bytes);
    expect(await h.result(json.job_id)).toMatchObject({
      status: "failed",
      reason_code: "output_too_large",
      reason_detail:
        "the handler returned 101 bytes of output, over the limit of 100 bytes (the Component's handlerLimits.maxOutputBytes)",
    });
    expect(await h.result(bytes.job_id)).toMatchObject({ status: "failed", reason_code: "output_too_large" });
  });
});

describe("keepalive", () => {
  it("a job running 3x longer than the ack wait is not redelivered: the runtime calls working()", async () => {
    let calls = 0;
    let working = (): number => 0;
    const h = await harness(
      {
        handle: async () => {
          calls++;
          await sleep(900);
          return "slow";
        },
      },
      {
        ackWaitMs: 300,
        wrap: (bus) => {
          const s = spyingBus(bus);
          working = s.workingCalls;
          return s.bus;
        },
      },
    );
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    expect(await h.result(job.job_id)).toMatchObject({ status: "completed", attempt: 1 });
    await sleep(400); // past another ack wait: nothing comes back
    expect(calls).toBe(1);
    expect(working()).toBeGreaterThanOrEqual(3);
    const after = working();
    await sleep(250);
    expect(working()).toBe(after); // stopped once the job settled
  });
});

describe("duplicate guard", () => {
  it("a redelivered job whose Result exists is acked without running again", async () => {
    let calls = 0;
    let settles: SettleEvent[] = [];
    const h = await harness(
      {
        // 2: the in-process queue keeps the lost-ack delivery's slot (unlike JetStream, which frees it
        // after ack wait + 1 s), so the redelivery needs a second slot.
        concurrency: 2,
        handle: () => {
          calls++;
          return "once";
        },
      },
      {
        ackWaitMs: 300,
        // The first ack is lost on its way: the bus redelivers the finished job after the ack wait.
        wrap: (bus) => {
          const s = spyingBus(bus, { dropAcks: 1 });
          settles = s.settles;
          return s.bus;
        },
      },
    );
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    await waitFor("the redelivery's ack", () => settles.find((e) => e.deliveryCount === 2));
    expect(settles.map((e) => [e.action, e.deliveryCount])).toEqual([
      ["ack", 1],
      ["ack", 2],
    ]);
    expect(calls).toBe(1);
    expect(await h.bus.getResult(h.name, job.job_id)).toMatchObject({ status: "completed", attempt: 1 });
    expect(await metricValue(h, "duplicate")).toBe(1);
    expect(await h.bus.queueDepth(h.name)).toMatchObject({ total: 0 });
  });

  it("every delivery looks the Result up, a fresh first delivery too (one lookup)", async () => {
    let lookups = 0;
    const h = await harness(
      { handle: () => "x" },
      {
        wrap: (bus) =>
          withOverrides(bus, {
            getResult: (c: string, id: string) => {
              lookups++;
              return bus.getResult(c, id);
            },
          }),
      },
    );
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    await h.result(job.job_id);
    expect(lookups).toBe(1);
  });

  it("if the lookup fails, the delivery is nak'd with backoff rather than run blind", async () => {
    let failLookups = 1;
    let calls = 0;
    let settles: SettleEvent[] = [];
    const h = await harness(
      {
        handle: () => {
          calls++;
          return "done";
        },
      },
      {
        wrap: (bus) => {
          const s = spyingBus(
            withOverrides(bus, {
              getResult: async (c: string, id: string) => {
                if (failLookups-- > 0) throw new Error("results stream unreachable");
                return bus.getResult(c, id);
              },
            }) as Bus,
          );
          settles = s.settles;
          return s.bus;
        },
      },
    );
    const job = makeJob(h.name);
    await h.bus.publishJob(job);
    expect(await h.result(job.job_id)).toMatchObject({ status: "completed", attempt: 2 });
    expect(settles.map((e) => e.action)).toEqual(["nak", "ack"]);
    expect(calls).toBe(1); // attempt 1 was nak'd at the lookup; attempt 2 ran
  });
});
